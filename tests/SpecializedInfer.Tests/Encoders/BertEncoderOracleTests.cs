using System.Numerics.Tensors;

namespace SpecializedInfer.Tests.Encoders;

/// <summary>
/// The reference encoder against ONNX Runtime on the very ONNX file the GGUF was converted from (token states and
/// pooled, normalized embeddings), and against llama.cpp's embedding of the converted GGUF.
/// </summary>
[Collection(MiniLmCollection.Name)]
public sealed class BertEncoderOracleTests(MiniLm m)
{
    private const float Tolerance = 1e-4f;

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void Embeddings_equal_onnx_runtime(int batch)
    {
        var texts = Sentences.Varied(200);
        var tokens = texts.Select(m.Encoder.Tokenizer.Encode).ToArray();
        Assert.True(tokens.Max(t => t.Length) > 40 && tokens.Min(t => t.Length) <= 4, "the sentences vary in length");
        var ours = m.Encoder.Embed(texts, batch);
        var expected = m.OnnxRuntimeEmbeddings(texts);
        var worst = 0f;
        for (var i = 0; i < texts.Length; i++)
            for (var d = 0; d < 384; d++) worst = Math.Max(worst, Math.Abs(expected[i][d] - ours[i][d]));
        Assert.True(worst <= Tolerance, $"largest difference from ONNX Runtime {worst:E2} > {Tolerance:E0}");
    }

    [Fact]
    public void Token_states_of_a_padded_batch_equal_onnx_runtime()
    {
        var tokens = Sentences.Varied(8, seed: 5).Select(m.Encoder.Tokenizer.Encode).ToArray();
        var expected = m.OnnxRuntimeStates(tokens, out var length);
        var ids = new int[tokens.Length * length];
        var mask = new int[tokens.Length * length];
        for (var b = 0; b < tokens.Length; b++)
            for (var t = 0; t < tokens[b].Length; t++) { ids[b * length + t] = tokens[b][t]; mask[b * length + t] = 1; }
        var states = new float[expected.Length];
        m.Encoder.Encode(ids, mask, default, tokens.Length, length, states);
        // Every position, padded ones included: a padded query still attends over the sentence's real tokens only.
        var worst = 0f;
        for (var i = 0; i < states.Length; i++) worst = Math.Max(worst, Math.Abs(states[i] - expected[i]));
        Assert.True(worst <= 2e-4f, $"largest token-state difference from ONNX Runtime {worst:E2}");
    }

    [Fact]
    public void Embeddings_equal_llama_cpp()
    {
        // llama.cpp computes BERT's GELU with ggml_gelu (tanh approximation through a half-precision table), not
        // with erf; the encoder computing the same function must agree within 1e-4. With the model's exact GELU the
        // difference is up to about 3e-4 (measured), which is llama.cpp's approximation, not a layout or tokenizer error.
        var encoder = new SpecializedInfer.Encoders.BertEncoder(m.Weights, activation: SpecializedInfer.Encoders.BertActivation.GeluTanhHalfTable);
        var texts = Sentences.Varied(24, seed: 7);
        var ours = encoder.Embed(texts);
        var worst = 0f;
        for (var i = 0; i < texts.Length; i++)
        {
            var theirs = m.LlamaCpp.Embed(texts[i]);
            var norm = TensorPrimitives.Norm(theirs);
            for (var d = 0; d < 384; d++) worst = Math.Max(worst, Math.Abs(theirs[d] / norm - ours[i][d]));
        }
        Assert.True(worst <= Tolerance, $"largest difference from llama.cpp {worst:E2} > {Tolerance:E0}");
    }
}
