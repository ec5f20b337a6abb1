using System.Globalization;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer;

/// <summary>A weights file whose topology differs from the manifest an engine was built for.</summary>
public sealed class ManifestMismatchException(string modelPath, long offset, string manifestPath, string property, string inManifest, string inModel)
    : ModelFormatException(modelPath, offset, $"'{property}' = {inManifest} as in the manifest {manifestPath}, found {inModel}")
{
    public string ManifestPath { get; } = manifestPath;
    public string Property { get; } = property;
}

/// <summary>Manifests from model files, and the load-time check that a file matches a manifest.</summary>
public static class ManifestCheck
{
    /// <summary>The manifest describing a loaded model (what <c>si manifest</c> writes).</summary>
    public static ModelManifest FromConfig(LlamaConfig c, string name) => new()
    {
        Name = name,
        Architecture = c.Architecture,
        Dim = c.Dim,
        HiddenDim = c.HiddenDim,
        Layers = c.Layers,
        Heads = c.Heads,
        KvHeads = c.KvHeads,
        HeadDim = c.HeadDim,
        RotaryDims = c.RotaryDims,
        // Through decimal: the float's shortest decimal form (1e-5, not 9.99999974737875e-6) is what a manifest says.
        RopeTheta = (double)(decimal)c.RopeTheta,
        NormEps = (double)(decimal)c.NormEps,
        VocabSize = c.VocabSize,
        ContextLength = c.ContextLength,
        TiedOutput = c.TiedOutput,
        RopeFrequencyFactors = c.RopeFrequencyFactors,
    };

    /// <summary>The manifest of a model file, with the type its layer matrices share (what <c>si manifest</c> writes).</summary>
    public static ModelManifest FromFile(Gguf.GgufFile file, LlamaConfig c, string name) => FromConfig(c, name) with { WeightType = WeightTypeOf(file, c) };

    /// <summary>The type every layer matrix of <paramref name="file"/> is stored in, as a manifest names it; null when they mix types.</summary>
    public static string? WeightTypeOf(Gguf.GgufFile file, LlamaConfig c)
    {
        var types = LayerMatrices(file, c, TensorNames.Gguf).Select(t => t.Type).Distinct().ToList();
        return types.Count == 1 ? Gguf.GgmlTypeInfo.Name(types[0]) : null;
    }

    /// <summary>The attention and feed-forward matrices of every layer the file holds, by the names <paramref name="n"/>.</summary>
    private static IEnumerable<Gguf.GgufTensorInfo> LayerMatrices(Gguf.GgufFile file, LlamaConfig c, TensorNames n)
    {
        for (var layer = 0; layer < c.Layers; layer++)
            foreach (var pattern in new[] { n.Query, n.Key, n.Value, n.AttentionOutput, n.Gate, n.Up, n.Down })
            {
                var name = TensorNames.ForLayer(pattern, layer);
                if (file.HasTensor(name)) yield return file.GetTensor(name);
            }
    }

    /// <summary>Throws <see cref="ManifestMismatchException"/> naming the first property where the model differs from the manifest.</summary>
    public static void Verify(ModelManifest manifest, string manifestPath, LlamaWeights weights) =>
        Verify(manifest, manifestPath, weights.File, weights.Config);

    /// <summary>
    /// The same check on a file whose weights are not bound yet. Tensor names are not compared here: the weights
    /// are bound by the manifest's names, and a name the file lacks is a missing tensor at that point.
    /// </summary>
    public static void Verify(ModelManifest manifest, string manifestPath, Gguf.GgufFile file, LlamaConfig config)
    {
        var actual = FromConfig(config, manifest.Name);
        // Keys are per architecture ("qwen2.block_count"): the file's own architecture names them.
        string K(string suffix) => LlamaModelRules.Key(config.Architecture, suffix);
        void Check<T>(string property, string key, T expected, T found)
        {
            if (EqualityComparer<T>.Default.Equals(expected, found)) return;
            var offset = file.Find(key)?.Offset ?? 0;
            throw new ManifestMismatchException(file.FilePath, offset, manifestPath, property, Format(expected), Format(found));
        }
        Check("architecture", "general.architecture", manifest.Architecture, actual.Architecture);
        Check("dim", K("embedding_length"), manifest.Dim, actual.Dim);
        Check("hiddenDim", K("feed_forward_length"), manifest.HiddenDim, actual.HiddenDim);
        Check("layers", K("block_count"), manifest.Layers, actual.Layers);
        Check("heads", K("attention.head_count"), manifest.Heads, actual.Heads);
        Check("kvHeads", K("attention.head_count_kv"), manifest.KvHeads, actual.KvHeads);
        Check("headDim", K("attention.key_length"), manifest.HeadDim, actual.HeadDim);
        Check("rotaryDims", K("rope.dimension_count"), manifest.RotaryDims, actual.RotaryDims);
        Check("ropeTheta", K("rope.freq_base"), (float)manifest.RopeTheta, (float)actual.RopeTheta);
        Check("normEps", K("attention.layer_norm_rms_epsilon"), (float)manifest.NormEps, (float)actual.NormEps);
        Check("vocabSize", "tokenizer.ggml.tokens", manifest.VocabSize, actual.VocabSize);
        Check("contextLength", K("context_length"), manifest.ContextLength, actual.ContextLength);
        Check("tiedOutput", "", manifest.TiedOutput, actual.TiedOutput);
        Check("ropeFrequencyFactors", "", manifest.RopeFrequencyFactors, actual.RopeFrequencyFactors);
        if (manifest.WeightType is { } weightType && LayerMatrices(file, config, manifest.Tensors).FirstOrDefault(t => Gguf.GgmlTypeInfo.Name(t.Type) != weightType) is { } other)
            throw new ManifestMismatchException(file.FilePath, other.HeaderOffset, manifestPath, "weightType", weightType, $"tensor '{other.Name}' in {Gguf.GgmlTypeInfo.Name(other.Type)}");
    }

    private static string Format<T>(T value) => value switch
    {
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        _ => value?.ToString() ?? "null",
    };
}
