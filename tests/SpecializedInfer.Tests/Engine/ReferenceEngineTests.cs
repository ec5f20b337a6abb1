using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Tests.Engine;

/// <summary>
/// What only the reference engine has, beyond the llama.cpp comparison and the shared session contract
/// (<see cref="ReferenceSessionContractTests"/>): configuration from the file, ForwardAll, quantized weights, metadata checks.
/// </summary>
public sealed class ReferenceEngineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-engine-").FullName;
    private static string Stories => ModelLocator.Find("stories260K.gguf");

    [Fact]
    public void Config_is_read_from_the_file()
    {
        using var engine = ReferenceEngine.Load(Stories);
        var c = engine.Config;
        Assert.Equal((64, 172, 5, 8, 4, 8, 8, 512, 2048), (c.Dim, c.HiddenDim, c.Layers, c.Heads, c.KvHeads, c.HeadDim, c.RotaryDims, c.VocabSize, c.ContextLength));
        Assert.Equal(1e-5f, c.NormEps);
        Assert.Equal(10000f, c.RopeTheta);
        Assert.False(c.TiedOutput); // stories260K.gguf carries output.weight (a copy of the embedding)
    }

    [Fact]
    public void ForwardAll_gives_every_positions_logits_as_one_token_at_a_time_does()
    {
        using var engine = ReferenceEngine.Load(Stories);
        var tokens = Enumerable.Range(0, 40).Select(i => (i * 37 + 1) % 512).ToArray();
        using var one = engine.CreateSession(64);
        var expected = new List<float[]>();
        foreach (var t in tokens) expected.Add(one.Forward(t).ToArray());

        var batched = (ReferenceSession)engine.CreateSession(64);
        var all = new float[tokens.Length * 512];
        var last = batched.ForwardAll(tokens, all).ToArray();
        for (var i = 0; i < tokens.Length; i++) Assert.Equal(expected[i], all.AsSpan(i * 512, 512).ToArray());
        Assert.Equal(expected[^1], last);
        Assert.Equal(one.Forward(5).ToArray(), batched.Forward(5).ToArray());
    }

    [Theory]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    [InlineData(GgmlType.Q8_0)]
    public void Quantized_weights_give_logits_close_to_f32(GgmlType type)
    {
        var spec = new SyntheticModelSpec { Dim = 64, HiddenDim = 160, Layers = 2, Heads = 4, VocabSize = 400, ContextLength = 32, Seed = 4 };
        var f32 = Path.Combine(_dir, "f32.gguf");
        var quantized = Path.Combine(_dir, $"{type}.gguf");
        SyntheticModel.Write(spec, f32);
        SyntheticModel.Write(spec with { MatrixType = type }, quantized);
        using var a = ReferenceEngine.Load(f32);
        using var b = ReferenceEngine.Load(quantized);
        Assert.Equal(type, b.Weights.File.GetTensor("blk.0.attn_q.weight").Type);
        // The expansion to F32 is visible (si run can say why a 1.2 GB F16 file takes 2.4 GB more): the tied embedding
        // and seven matrices per layer, 4 bytes per weight; the F32 model stays in the mapping, and so do Q8_0
        // matrices, which the engine multiplies in their blocks.
        Assert.Equal((0, 0L, 0L), (a.Weights.DequantizedTensors, a.Weights.DequantizedBytes, a.Weights.DequantizedFileBytes));
        long d = spec.Dim, h = spec.HiddenDim;
        var typedBytes = b.Weights.File.Tensors.Where(t => t.Type == type).Sum(t => t.ByteSize);
        if (type == GgmlType.Q8_0)
        {
            Assert.Equal((0, 0L, 0L), (b.Weights.DequantizedTensors, b.Weights.DequantizedBytes, b.Weights.DequantizedFileBytes));
            Assert.Equal((1 + spec.Layers * 7, typedBytes), (b.Weights.QuantizedTensors, b.Weights.QuantizedBytes));
        }
        else
        {
            Assert.Equal(1 + spec.Layers * 7, b.Weights.DequantizedTensors);
            Assert.Equal(4 * (spec.VocabSize * d + spec.Layers * (4 * d * d + 3 * d * h)), b.Weights.DequantizedBytes);
            Assert.Equal(typedBytes, b.Weights.DequantizedFileBytes);
            Assert.Equal((0, 0L), (b.Weights.QuantizedTensors, b.Weights.QuantizedBytes));
        }
        var sa = a.CreateSession();
        var sb = b.CreateSession();
        var tolerance = type == GgmlType.F16 ? 0.01f : 0.1f;
        foreach (var token in new[] { 1, 50, 300, 7 })
        {
            var la = sa.Forward(token).ToArray();
            var lb = sb.Forward(token).ToArray();
            Assert.All(la.Zip(lb), p => Assert.InRange(p.Second - p.First, -tolerance, tolerance));
        }
    }

    public static TheoryData<string, string, object, string> MetadataThatDisagreesWithTensors => new()
    {
        // key, value type, corrupted value, the tensor (or key) the error must name
        { "llama.embedding_length", "u32", 96u, "token_embd.weight" },
        { "llama.feed_forward_length", "u32", 100u, "blk.0.ffn_gate.weight" },
        { "llama.attention.head_count_kv", "u32", 8u, "blk.0.attn_k.weight" },
        { "llama.block_count", "u32", 6u, "blk.5.attn_norm.weight" },
        { "llama.attention.head_count", "u32", 7u, "llama.attention.head_count" },
        { "llama.attention.head_count_kv", "u32", 3u, "llama.attention.head_count_kv" },
        { "llama.rope.dimension_count", "u32", 9u, "llama.rope.dimension_count" },
        { "general.architecture", "str", "gpt2", "architecture 'llama'" },
    };

    [Theory]
    [MemberData(nameof(MetadataThatDisagreesWithTensors))]
    public void Metadata_that_disagrees_with_the_tensors_is_a_format_error_naming_what_disagrees(string key, string type, object value, string named)
    {
        using var source = GgufFile.Open(Stories);
        var writer = new GgufWriter();
        foreach (var (k, v) in source.Metadata)
            writer.Add(k, k == key ? (type == "u32" ? GgufValue.Of((uint)value) : GgufValue.Of((string)value)) : v);
        foreach (var t in source.Tensors) writer.AddTensor(t.Name, t.Dimensions, t.Type, source.GetBytes(t));
        var path = Path.Combine(_dir, "bad.gguf");
        writer.Write(path);

        var e = Assert.Throws<GgufFormatException>(() => LlamaWeights.Load(path));
        Assert.Equal(path, e.FilePath);
        Assert.Contains(named, e.Message);
        Assert.InRange(e.Offset, 1, new FileInfo(path).Length);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
