using SpecializedInfer.Encoders;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tests.Encoders;

/// <summary>The shipped MiniLM read from its ONNX graph and written in llama.cpp's BERT layout.</summary>
[Collection(MiniLmCollection.Name)]
public sealed class MiniLmConversionTests(MiniLm m)
{
    [Fact]
    public void Model_facts_come_from_the_graph()
    {
        var c = m.Model.Config;
        // Measured facts of all-MiniLM-L6-v2 (its config.json): the walk must find each of them.
        Assert.Equal((6, 384, 12, 1536, 512, 30522, 2), (c.Layers, c.Dim, c.Heads, c.HiddenDim, c.ContextLength, c.VocabSize, c.TokenTypes));
        Assert.Equal(1e-12f, c.NormEps);
        Assert.Equal("gelu", m.Model.Activation);
        Assert.Equal(30522, m.Vocabulary.Length);
    }

    [Fact]
    public void The_gguf_has_llama_cpp_bert_keys_and_tensor_names()
    {
        using var file = GgufFile.Open(m.GgufPath);
        Assert.Equal("bert", file.GetString("general.architecture"));
        Assert.Equal("bert", file.GetString("tokenizer.ggml.model"));
        Assert.Equal(6, file.GetInteger("bert.block_count"));
        Assert.Equal(1, file.GetInteger("bert.pooling_type"));
        Assert.Equal(false, file.Find("bert.attention.causal")!.Value);
        var names = file.Tensors.Select(t => t.Name).ToHashSet();
        foreach (var n in new[] { "token_embd.weight", "token_types.weight", "position_embd.weight", "token_embd_norm.weight", "token_embd_norm.bias" })
            Assert.Contains(n, names);
        foreach (var part in new[] { "attn_q", "attn_k", "attn_v", "attn_output", "attn_output_norm", "ffn_up", "ffn_down", "layer_output_norm" })
            for (var l = 0; l < 6; l++)
            {
                Assert.Contains($"blk.{l}.{part}.weight", names);
                Assert.Contains($"blk.{l}.{part}.bias", names);
            }
        Assert.Equal(5 + 6 * 16, names.Count);
        var tokens = file.GetArray<string>("tokenizer.ggml.tokens");
        Assert.Equal("[CLS]", tokens[101]);
        Assert.Equal("\u2581the", tokens[1996]);
        Assert.Equal("ing", tokens[Array.IndexOf(m.Vocabulary, "##ing")]);
    }

    [Fact]
    public void Weights_are_the_onnx_initializers_transposed()
    {
        // The query weight of layer 0 is MatMul(x, W[in,out]) in ONNX; GGUF rows are outputs. Element (o, i) of the
        // GGUF tensor must be W[i, o] of the initializer that feeds layer 0's query bias add.
        var q = m.Weights.Layers[0].Query;
        var tensor = m.Model.Tensors.Single(t => t.Name == "blk.0.attn_q.weight");
        Assert.Equal(tensor.Data, q.Weight);
        Assert.Equal(384, q.Inputs);
    }

    [Fact]
    public void Llama_cpp_loads_the_converted_file()
    {
        Assert.Equal(384, m.LlamaCpp.EmbeddingSize);
        Assert.Equal([101, 7592, 2088, 102], m.LlamaCpp.Tokenize("hello world"));
    }
}
