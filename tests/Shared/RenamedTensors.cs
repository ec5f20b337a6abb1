using SpecializedInfer.Gguf;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Testing;

/// <summary>
/// Model surgery for the manifest's <c>tensors</c> property: a copy of a GGUF model whose tensors carry other names
/// (Hugging Face's, as a converter that kept them would write), byte for byte the same data. An engine that binds by
/// the manifest's names must compute exactly what the original model computes.
/// </summary>
/// <remarks>This file is linked into both test projects (tests/Shared).</remarks>
public static class RenamedTensors
{
    /// <summary>The names the copies use; the manifest tests/SpecializedInfer.Generator.Tests/Plans/s260r.model.json spells the same.</summary>
    public static readonly TensorNames HuggingFace = new()
    {
        TokenEmbedding = "model.embed_tokens.weight",
        OutputNorm = "model.norm.weight",
        Output = "lm_head.weight",
        AttentionNorm = "model.layers.{layer}.input_layernorm.weight",
        Query = "model.layers.{layer}.self_attn.q_proj.weight",
        Key = "model.layers.{layer}.self_attn.k_proj.weight",
        Value = "model.layers.{layer}.self_attn.v_proj.weight",
        AttentionOutput = "model.layers.{layer}.self_attn.o_proj.weight",
        FeedForwardNorm = "model.layers.{layer}.post_attention_layernorm.weight",
        Gate = "model.layers.{layer}.mlp.gate_proj.weight",
        Up = "model.layers.{layer}.mlp.up_proj.weight",
        Down = "model.layers.{layer}.mlp.down_proj.weight",
    };

    /// <summary>Writes <paramref name="sourcePath"/> to <paramref name="destinationPath"/> with every model tensor renamed to <paramref name="names"/>.</summary>
    public static void Write(string sourcePath, string destinationPath, TensorNames names)
    {
        using var source = GgufFile.Open(sourcePath);
        var gguf = TensorNames.Gguf;
        var renames = new Dictionary<string, string>
        {
            [gguf.TokenEmbedding] = names.TokenEmbedding,
            [gguf.OutputNorm] = names.OutputNorm,
            [gguf.Output] = names.Output,
        };
        var layers = (int)source.GetInteger("llama.block_count", 1, int.MaxValue);
        (string From, string To)[] perLayer =
        [
            (gguf.AttentionNorm, names.AttentionNorm), (gguf.Query, names.Query), (gguf.Key, names.Key), (gguf.Value, names.Value),
            (gguf.AttentionOutput, names.AttentionOutput), (gguf.FeedForwardNorm, names.FeedForwardNorm),
            (gguf.Gate, names.Gate), (gguf.Up, names.Up), (gguf.Down, names.Down),
        ];
        for (var layer = 0; layer < layers; layer++)
            foreach (var (from, to) in perLayer)
                renames[TensorNames.ForLayer(from, layer)] = TensorNames.ForLayer(to, layer);

        var writer = new GgufWriter();
        foreach (var (key, value) in source.Metadata) writer.Add(key, value);
        foreach (var t in source.Tensors)
            writer.AddTensor(renames.GetValueOrDefault(t.Name, t.Name), t.Dimensions, t.Type, source.GetBytes(t));
        writer.Write(destinationPath);
    }
}
