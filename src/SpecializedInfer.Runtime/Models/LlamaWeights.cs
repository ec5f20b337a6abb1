using System.Runtime.InteropServices;
using SpecializedInfer.Gguf;
using SpecializedInfer.Planning;
using SpecializedInfer.Quantization;

namespace SpecializedInfer.Models;

/// <summary>The tensors of one transformer block.</summary>
public sealed record LlamaLayerWeights(
    WeightTensor AttentionNorm,
    WeightTensor Query,
    WeightTensor Key,
    WeightTensor Value,
    WeightTensor Output,
    WeightTensor FeedForwardNorm,
    WeightTensor Gate,
    WeightTensor Up,
    WeightTensor Down)
{
    /// <summary>The projections' biases when the architecture has them (Qwen2); null otherwise.</summary>
    public ProjectionBiases? Biases { get; init; }
}

/// <summary>Biases added after the query, key and value projections (one vector each, of the projection's width).</summary>
public sealed record ProjectionBiases(WeightTensor Query, WeightTensor Key, WeightTensor Value);

/// <summary>The tensors of one head: final RMSNorm weight and output matrix, and the adapter in front of them if the plan names one.</summary>
public readonly record struct ExitHeadWeights(WeightTensor Norm, WeightTensor Output, ExitAdapterWeights? Adapter = null);

/// <summary>
/// Binds a GGUF file's tensors to a <see cref="LlamaConfig"/>, checking every shape. F32 tensors and Q8_0/Q4_0
/// matrices stay in the mapping (a Q8_0 model takes about its file size in memory); the other types are dequantized
/// once into pinned arrays (<see cref="DequantizedBytes"/> says how much memory that took, so a caller can tell the
/// user why a 1.2 GB F16 file needs 2.4 GB more). Owns the file: dispose to unmap.
/// </summary>
public sealed unsafe class LlamaWeights : IDisposable
{
    private readonly List<float[]> _pinned = [];

    private LlamaWeights(GgufFile file, LlamaConfig config, TensorNames names, IEnumerable<int>? layersToBind)
    {
        File = file;
        Config = config;
        TensorNames = names;
        var c = config;
        TokenEmbedding = Bind(names.TokenEmbedding, c.VocabSize, c.Dim);
        OutputNorm = BindVector(names.OutputNorm, c.Dim);
        Output = c.TiedOutput ? TokenEmbedding : Bind(names.Output, c.VocabSize, c.Dim);
        RopeFrequencies = c.RopeFrequencyFactors ? BindVector(names.RopeFrequencies, c.RotaryDims / 2) : null;
        var layers = new LlamaLayerWeights?[c.Layers];
        foreach (var i in layersToBind ?? Enumerable.Range(0, c.Layers))
        {
            if ((uint)i >= (uint)c.Layers)
                throw new ArgumentOutOfRangeException($"The model has layers 0 to {c.Layers - 1}; layer {i} does not exist.", innerException: null);
            string N(string pattern) => TensorNames.ForLayer(pattern, i);
            layers[i] = new LlamaLayerWeights(
                AttentionNorm: BindVector(N(names.AttentionNorm), c.Dim),
                Query: Bind(N(names.Query), c.QueryDim, c.Dim),
                Key: Bind(N(names.Key), c.KvDim, c.Dim),
                Value: Bind(N(names.Value), c.KvDim, c.Dim),
                Output: Bind(N(names.AttentionOutput), c.Dim, c.QueryDim),
                FeedForwardNorm: BindVector(N(names.FeedForwardNorm), c.Dim),
                Gate: Bind(N(names.Gate), c.HiddenDim, c.Dim),
                Up: Bind(N(names.Up), c.HiddenDim, c.Dim),
                Down: Bind(N(names.Down), c.Dim, c.HiddenDim))
            {
                Biases = c.AttentionBias
                    ? new ProjectionBiases(BindVector(N(names.QueryBias), c.QueryDim), BindVector(N(names.KeyBias), c.KvDim), BindVector(N(names.ValueBias), c.KvDim))
                    : null,
            };
        }
        Layers = layers;
    }

    /// <summary>
    /// Opens a GGUF model and binds its weights; malformed files throw <see cref="GgufFormatException"/>. With
    /// <paramref name="layersToBind"/>, only those layers' tensors are bound (checked, and dequantized if needed):
    /// a plan's pruned or weight-sharing layers are never read.
    /// </summary>
    public static LlamaWeights Load(string path, IEnumerable<int>? layersToBind = null) => Load(path, TensorNames.Gguf, layersToBind, check: null);

    /// <summary>
    /// Like <see cref="Load(string, IEnumerable{int}?)"/>, first checking the file against the manifest an engine
    /// was built for, so a mismatch is reported as such rather than as a missing layer or a bad shape. Tensors are
    /// bound by the manifest's names (its <c>tensors</c>), so a file with renamed tensors loads.
    /// </summary>
    public static LlamaWeights Load(string path, ModelManifest manifest, string manifestPath, IEnumerable<int>? layersToBind) =>
        Load(path, manifest.Tensors, layersToBind, (file, config) => ManifestCheck.Verify(manifest, manifestPath, file, config));

    private static LlamaWeights Load(string path, TensorNames names, IEnumerable<int>? layersToBind, Action<GgufFile, LlamaConfig>? check)
    {
        var file = GgufFile.Open(path);
        try
        {
            var config = LlamaConfig.FromGguf(file, names);
            check?.Invoke(file, config);
            return new LlamaWeights(file, config, names, layersToBind);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public GgufFile File { get; }
    public LlamaConfig Config { get; }

    /// <summary>The names the tensors were bound by: GGUF's, or a manifest's <c>tensors</c>.</summary>
    public TensorNames TensorNames { get; }
    public WeightTensor TokenEmbedding { get; }
    public WeightTensor OutputNorm { get; }
    public WeightTensor Output { get; }

    /// <summary>Rotary frequency factors, one per rotated pair (Llama 3); null when the model has none.</summary>
    public WeightTensor? RopeFrequencies { get; }

    /// <summary>Per-layer weights; null for a layer that was not bound.</summary>
    public IReadOnlyList<LlamaLayerWeights?> Layers { get; }

    /// <summary>The weights of a bound layer.</summary>
    public LlamaLayerWeights Layer(int index) =>
        Layers[index] ?? throw new InvalidOperationException($"Layer {index}'s weights were not bound (the plan never reads them).");

    /// <summary>
    /// An exit-specific head named by a plan: its RMSNorm weight [dim] and output matrix [vocab × dim] (and its adapter's
    /// norm [dim], matrix [dim × dim] and bias [dim]), checked
    /// like every other tensor (a missing name or a wrong shape throws <see cref="GgufFormatException"/>).
    /// </summary>
    public ExitHeadWeights BindExitHead(ExitHead head)
    {
        lock (_pinned)
        {
            var adapter = head.Adapter is { } a ? BindExitAdapter(a) : null;
            // A head that names the model's own norm or output matrix (an adapter in front of the model's head, say)
            // shares the tensor bound at load: binding it again would expand a non-F32 matrix a second time.
            var norm = head.Norm == TensorNames.OutputNorm ? OutputNorm : BindVector(head.Norm, Config.Dim);
            var output = head.Output == ModelOutputName ? Output : Bind(head.Output, Config.VocabSize, Config.Dim);
            return new ExitHeadWeights(norm, output, adapter);
        }
    }

    /// <summary>The tensor <see cref="Output"/> was bound from: the token embedding when the output is tied to it.</summary>
    public string ModelOutputName => Config.TiedOutput ? TensorNames.TokenEmbedding : TensorNames.Output;

    /// <summary>An exit head's adapter: norm [dim], matrix [dim × dim], bias [dim], checked like every other tensor.</summary>
    public ExitAdapterWeights BindExitAdapter(ExitAdapter adapter)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        lock (_pinned)
        {
            WeightTensor? bias = adapter.Bias is null ? null : BindVector(adapter.Bias, Config.Dim);
            return new ExitAdapterWeights(BindVector(adapter.Norm, Config.Dim), Bind(adapter.Weight, Config.Dim, Config.Dim), bias, Config.NormEps);
        }
    }

    /// <summary>
    /// Tensors that were not F32 in the file and were expanded to F32: at load for the types no engine multiplies in
    /// their blocks (F16, BF16, Q4_1, Q5_0, Q5_1, IQ4_NL, the K-quants; norm vectors of any type), and later for a
    /// Q8_0/Q4_0 tensor whose floats someone asked for (<see cref="WeightTensor.Span"/>). Each takes 4 bytes per
    /// weight in memory, not its size in the file. Zero for an all-F32 model, which stays in the mapping, and for a
    /// Q8_0/Q4_0 model run by the reference engine, which multiplies the blocks in the mapping.
    /// </summary>
    public int DequantizedTensors { get; private set; }

    /// <summary>Bytes of memory the dequantized tensors take (<see cref="DequantizedTensors"/>), beyond the file mapping.</summary>
    public long DequantizedBytes { get; private set; }

    /// <summary>Bytes the dequantized tensors take in the file, before expansion.</summary>
    public long DequantizedFileBytes { get; private set; }

    /// <summary>Bound Q8_0/Q4_0 matrices, kept in their blocks in the file mapping (no copy).</summary>
    public int QuantizedTensors { get; private set; }

    /// <summary>Bytes of the <see cref="QuantizedTensors"/> in the file (and so in the mapping).</summary>
    public long QuantizedBytes { get; private set; }

    /// <summary>A norm weight: one dimension, <paramref name="length"/> long.</summary>
    private WeightTensor BindVector(string name, int length) => Bind(name, 1, length, [length]);

    /// <summary>A weight matrix of <paramref name="rows"/> outputs by <paramref name="cols"/> inputs, stored [cols, rows], even with one row.</summary>
    private WeightTensor Bind(string name, int rows, int cols) => Bind(name, rows, cols, [cols, rows]);

    private WeightTensor Bind(string name, int rows, int cols, long[] expected)
    {
        var t = File.GetTensor(name);
        if (!t.Dimensions.SequenceEqual(expected))
            throw new GgufFormatException(File.FilePath, t.HeaderOffset,
                $"tensor '{name}' of shape [{string.Join(", ", expected)}] for the topology in the metadata, found {t.Shape}");
        if (!GgmlTypeInfo.CanDequantize(t.Type))
            throw new GgufFormatException(File.FilePath, t.HeaderOffset, $"tensor '{name}' of a weight type ({WeightTypeNames}), found {t.Type}");
        var bytes = File.GetBytes(t);
        fixed (byte* p = bytes) // the mapping outlives this object's use of the pointer
        {
            if (t.Type == GgmlType.F32) return new WeightTensor((float*)p, rows, cols);
            if (rows > 1 && QuantizedDot.Computes(t.Type))
            {
                QuantizedTensors++;
                QuantizedBytes += t.ByteSize;
                return new WeightTensor(p, t.Type, rows, cols, new Float32Expansion(p, t.ByteSize, t.Type, rows * cols, CountExpansion));
            }
        }
        var data = GC.AllocateUninitializedArray<float>(rows * cols, pinned: true);
        GgmlDequantize.ToFloat32(t.Type, bytes, data);
        _pinned.Add(data);
        CountExpansion((long)data.Length * sizeof(float), t.ByteSize);
        return new WeightTensor((float*)Marshal.UnsafeAddrOfPinnedArrayElement(data, 0), rows, cols);
    }

    private static readonly string WeightTypeNames = string.Join(", ", Enum.GetValues<GgmlType>().Where(GgmlTypeInfo.CanDequantize));

    private void CountExpansion(long memoryBytes, long fileBytes)
    {
        lock (_pinned)
        {
            DequantizedTensors++;
            DequantizedBytes += memoryBytes;
            DequantizedFileBytes += fileBytes;
        }
    }

    public void Dispose() => File.Dispose();
}
