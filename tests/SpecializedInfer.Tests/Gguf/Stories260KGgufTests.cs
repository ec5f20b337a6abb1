using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tests.Gguf;

/// <summary>The shipped stories260K.gguf (see ../shared/models/README.md) loads with the documented contents.</summary>
public sealed class Stories260KGgufTests
{
    private static readonly string[] BlockTensors =
        ["attn_q", "attn_k", "attn_v", "attn_output", "attn_norm", "ffn_gate", "ffn_down", "ffn_up", "ffn_norm"];

    [Fact]
    public void Header_and_metadata_match_the_readme()
    {
        using var file = GgufFile.Open(ShippedModels.GgufPath);
        Assert.Equal(1185376, file.FileLength);
        Assert.Equal(3u, file.Version);
        Assert.Equal(32, file.Alignment);
        Assert.Equal(14176, file.DataOffset);
        Assert.Equal(19, file.Metadata.Count);

        Assert.Equal("llama", file.GetString("general.architecture"));
        Assert.Equal("llama", file.GetString("tokenizer.ggml.model"));
        Assert.Equal(64, file.GetInteger("llama.embedding_length"));
        Assert.Equal(172, file.GetInteger("llama.feed_forward_length"));
        Assert.Equal(5, file.GetInteger("llama.block_count"));
        Assert.Equal(8, file.GetInteger("llama.attention.head_count"));
        Assert.Equal(4, file.GetInteger("llama.attention.head_count_kv"));
        Assert.Equal(8, file.GetInteger("llama.rope.dimension_count"));
        Assert.Equal(2048, file.GetInteger("llama.context_length"));
        Assert.Equal(1e-5f, file.GetFloat("llama.attention.layer_norm_rms_epsilon"));
        Assert.Equal(GgufValueType.Float32, file.Find("llama.attention.layer_norm_rms_epsilon")!.Type);
        Assert.Equal(GgufValueType.UInt32, file.Find("llama.context_length")!.Type);
        Assert.Equal(0, file.GetInteger("tokenizer.ggml.unknown_token_id"));
        Assert.Equal(1, file.GetInteger("tokenizer.ggml.bos_token_id"));
        Assert.Equal(2, file.GetInteger("tokenizer.ggml.eos_token_id"));
        Assert.Equal(uint.MaxValue, file.GetInteger("tokenizer.ggml.padding_token_id"));

        var tokens = file.GetArray<string>("tokenizer.ggml.tokens");
        var scores = file.GetArray<float>("tokenizer.ggml.scores");
        var types = file.GetArray<int>("tokenizer.ggml.token_type");
        Assert.Equal(512, tokens.Length);
        Assert.Equal(512, scores.Length);
        Assert.Equal(512, types.Length);
        Assert.Equal(["<unk>", "<s>", "</s>", "<0x00>"], tokens[..4]);
        Assert.Equal([2, 3, 3, 6], types[..4]);
        Assert.Equal("\u2581t", tokens[259]);
        Assert.Equal(-252f, scores[511]);
    }

    [Fact]
    public void Has_48_f32_tensors_with_llama_names_and_shapes()
    {
        using var file = GgufFile.Open(ShippedModels.GgufPath);
        Assert.Equal(48, file.Tensors.Count);
        string[] expectedNames =
        [
            "token_embd.weight", "output_norm.weight", "output.weight",
            .. Enumerable.Range(0, 5).SelectMany(i => BlockTensors.Select(t => $"blk.{i}.{t}.weight")),
        ];
        Assert.Equal(expectedNames, file.Tensors.Select(t => t.Name));
        Assert.All(file.Tensors, t => Assert.Equal(GgmlType.F32, t.Type));

        Assert.Equal(new long[] { 64, 512 }, file.GetTensor("token_embd.weight").Dimensions);
        Assert.Equal(new long[] { 64 }, file.GetTensor("output_norm.weight").Dimensions);
        Assert.Equal(new long[] { 64, 64 }, file.GetTensor("blk.0.attn_q.weight").Dimensions);
        Assert.Equal(new long[] { 64, 32 }, file.GetTensor("blk.3.attn_k.weight").Dimensions);
        Assert.Equal(new long[] { 64, 172 }, file.GetTensor("blk.4.ffn_gate.weight").Dimensions);
        Assert.Equal(new long[] { 172, 64 }, file.GetTensor("blk.4.ffn_down.weight").Dimensions);

        long total = 0;
        foreach (var t in file.Tensors)
        {
            var span = file.GetFloat32(t.Name);
            Assert.Equal(t.Dimensions.Aggregate(1L, (a, d) => a * d), span.Length);
            Assert.Equal(t.ByteSize, span.Length * 4L);
            Assert.Equal(0, t.DataOffset % 32);
            total += (t.ByteSize + 31) / 32 * 32;
        }
        Assert.Equal(file.FileLength - file.DataOffset, total);
    }

    [Fact]
    public void Output_weight_equals_the_token_embedding_and_spans_read_the_mapping()
    {
        using var file = GgufFile.Open(ShippedModels.GgufPath);
        Assert.True(file.GetFloat32("output.weight").SequenceEqual(file.GetFloat32("token_embd.weight")));
        var norm = file.GetFloat32("blk.2.ffn_norm.weight");
        Assert.Equal(norm.ToArray(), file.ReadAsFloat32("blk.2.ffn_norm.weight"));
        Assert.Contains(norm.ToArray(), v => v != 0 && float.IsFinite(v));

        var raw = ShippedModels.GgufBytes();
        var t = file.GetTensor("blk.2.ffn_norm.weight");
        Assert.True(raw.AsSpan((int)t.FileOffset, (int)t.ByteSize).SequenceEqual(file.GetBytes(t)));
    }
}
