using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>A tensor the engine binds, by its accessor's name (Query3, OutputNorm, ExitOutput0), and where its floats sit.</summary>
public sealed record TensorSlot(string Name, long Offset, long Length);

/// <summary>
/// Where an engine's bound weights live and how generated code reaches them: the tensors the schedule reads (the
/// layers it runs, the output norm and matrix, the plan's exit heads), the row stride of every matrix, and the emit
/// functions that bind and read them. Decided once per engine from its spec (<see cref="For"/>); every emitter
/// part, and the kernels' strides, read this one record. Another storage (quantized blocks, a repacked layout) is
/// another subclass with its own emit functions.
/// </summary>
public abstract record WeightLayout
{
    /// <summary>A layer's tensors, in the order <c>LayerWeights</c> holds them.</summary>
    public static readonly string[] LayerTensors = { "AttentionNorm", "Query", "Key", "Value", "Output", "FeedForwardNorm", "Gate", "Up", "Down" };

    protected WeightLayout(ModelManifest manifest, EquatableArray<int> layers, EquatableArray<ExitHead> heads, EquatableArray<LayerMerge> merges)
    {
        Manifest = manifest;
        Layers = layers;
        Heads = heads;
        Merges = merges;
    }

    public ModelManifest Manifest { get; }

    /// <summary>The layers whose weights the schedule reads, ascending.</summary>
    public EquatableArray<int> Layers { get; }

    /// <summary>
    /// The plan's LaCo merges: a layer of <see cref="Layers"/> that is a merge's first runs with the merged weights,
    /// computed at load by the runtime's <c>LayerMerging</c>, the reference engine's one implementation, so both hold the same bits.
    /// </summary>
    public EquatableArray<LayerMerge> Merges { get; }

    /// <summary>The merge layer <paramref name="layer"/>'s weights come from, or null.</summary>
    public LayerMerge? MergeInto(int layer) => Merges.FirstOrDefault(m => m.First == layer);

    /// <summary>
    /// The expression binding layer <paramref name="layer"/>'s weights (a <c>LlamaLayerWeights</c>) from <c>weights</c>: the
    /// file's, or the merged ones in pinned arrays added to <paramref name="keepAlive"/>, which must outlive their use.
    /// </summary>
    protected string BindLayer(int layer, string keepAlive) =>
        MergeInto(layer) is { } m
            ? $"{Models}.LayerMerging.Merge(weights, {PlanLiterals.LayerMergeLiteral(m)}, {keepAlive})"
            : $"weights.Layer({layer})";

    /// <summary>The comment beside a merged layer's binding.</summary>
    protected string MergeComment(int layer) =>
        MergeInto(layer) is { } m ? $" // plan: merge {m.First}-{m.First + m.Count - 1}, θ{m.First} + Σ (θk − θ{m.First}) as the reference computes it" : "";

    /// <summary>The distinct exit heads the plan names, in schedule order: head h is bound once however many exit points use it.</summary>
    public EquatableArray<ExitHead> Heads { get; }

    /// <summary>
    /// Models whose bound weights fit the spec's limit (cache-sized) get them copied at load into one 64-byte-aligned
    /// array (<see cref="AlignedCopyLayout"/>); larger models stream from the file mapping (<see cref="MappedLayout"/>).
    /// </summary>
    public static WeightLayout For(EngineSpec spec)
    {
        var layers = spec.Schedule.WeightLayers.ToEquatableArray();
        var heads = spec.Schedule.Steps.Select(s => s.ExitAfter?.Head).Where(h => h is not null).Select(h => h!).Distinct().ToEquatableArray();
        var merges = spec.Schedule.Merges.ToEquatableArray();
        var copy = AlignedCopyLayout.Create(spec.Manifest, layers, heads, merges);
        return copy.Length * 4 <= spec.WeightCopyLimit ? copy : new MappedLayout(spec.Manifest, layers, heads, merges);
    }

    /// <summary>Rows and columns of a layer tensor (norms are one row).</summary>
    public (int Rows, int Cols) Shape(string tensor) => Shape(Manifest, tensor);

    protected static (int Rows, int Cols) Shape(ModelManifest m, string tensor) => tensor switch
    {
        "AttentionNorm" or "FeedForwardNorm" => (1, m.Dim),
        "Query" => (m.QueryDim, m.Dim),
        "Key" or "Value" => (m.KvDim, m.Dim),
        "Output" => (m.Dim, m.QueryDim),
        "Gate" or "Up" => (m.HiddenDim, m.Dim),
        "Down" => (m.Dim, m.HiddenDim),
        _ => (0, 0),
    };

    /// <summary>Floats from one row of a matrix with <paramref name="cols"/> columns to the next, in the engine's memory.</summary>
    public abstract int Stride(int cols);

    /// <summary>A matrix as the kernels address it in this layout.</summary>
    public MatrixShape Matrix(int rows, int cols, bool residualAdd) => new(rows, cols, Stride(cols), residualAdd);

    /// <summary>A layer's projection (Query, Key, Value, Output, Gate, Up, Down); Output and Down add into the residual stream.</summary>
    public MatrixShape Projection(string tensor)
    {
        var (rows, cols) = Shape(tensor);
        return Matrix(rows, cols, residualAdd: tensor is "Output" or "Down");
    }

    /// <summary>A layer's matrices (every tensor but its two norms), in the order a step runs them.</summary>
    public static readonly string[] ProjectionTensors = { "Query", "Key", "Value", "Output", "Gate", "Up", "Down" };

    /// <summary>True for a layer's matrices, false for its norms (vectors), whatever the shape.</summary>
    public static bool IsProjection(string tensor) => System.Array.IndexOf(ProjectionTensors, tensor) >= 0;

    /// <summary>The distinct projection shapes, in the order a step runs them.</summary>
    public IEnumerable<MatrixShape> Projections => ProjectionTensors.Select(Projection).Distinct();

    /// <summary>The output matrix, and every exit head's: a row per vocabulary entry.</summary>
    public MatrixShape Head => Matrix(Manifest.VocabSize, Manifest.Dim, residualAdd: false);

    // -------------------------------------------------------------------------------------------------------------
    // Emit functions: each layout writes how its weights are held, bound and read.

    /// <summary>The engine class's weight fields (beside <c>_weights</c>, the mapped file) and its constructor.</summary>
    public abstract void WriteEngineMembers(SourceWriter s, string classIdentifier);

    /// <summary>The session's weight fields.</summary>
    public abstract void WriteSessionFields(SourceWriter s);

    /// <summary>The session constructor's statements that take the weights from <c>engine</c> and <c>weights</c>.</summary>
    public abstract void WriteSessionInitialization(SourceWriter s);

    /// <summary>
    /// The session's accessors the forward pass reads weights through: <c>Layer{l}()</c> (a <c>LayerWeights</c>),
    /// <c>OutputNorm</c>, <c>Output</c>, <c>ExitNorm{h}</c>, <c>ExitOutput{h}</c>; and whatever fills them at load.
    /// </summary>
    public abstract void WriteAccessors(SourceWriter s);

    /// <summary>A tensor's name as a parameter: Query → query, FeedForwardNorm → feedForwardNorm.</summary>
    public static string Camel(string tensor) => char.ToLowerInvariant(tensor[0]) + tensor.Substring(1);
}
