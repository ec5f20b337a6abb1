using System.Linq;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>
/// The bound weights read where they are, in the model file's mapping: models too large to copy (above
/// <c>SpecializedInferWeightCopyLimit</c>) stream from memory anyway, where alignment matters less. Rows keep the
/// file's layout (stride = columns); exit heads are bound by the engine's constructor, so a missing tensor fails
/// the load.
/// </summary>
public sealed record MappedLayout : WeightLayout
{
    public MappedLayout(ModelManifest manifest, EquatableArray<int> layers, EquatableArray<ExitHead> heads, EquatableArray<LayerMerge> merges)
        : base(manifest, layers, heads, merges) { }

    /// <summary>The layers whose weights are merged (LaCo): computed once by the engine's constructor, not read from the mapping.</summary>
    private int[] MergedLayers => Layers.Where(l => MergeInto(l) is not null).ToArray();

    public override int Stride(int cols) => cols;

    private string HeadFields => string.Join(", ", Heads.Select((_, h) => $"_exitHead{h}"));

    public override void WriteEngineMembers(SourceWriter s, string classIdentifier)
    {
        var merged = MergedLayers;
        if (Heads.Count == 0 && merged.Length == 0)
        {
            s.Line();
            s.Line($"private {classIdentifier}({Models}.LlamaWeights weights) => _weights = weights;");
            return;
        }
        if (Heads.Count > 0) s.Line($"private readonly {Models}.ExitHeadWeights {HeadFields};");
        if (merged.Length > 0)
        {
            s.Line($"private readonly {Models}.LlamaLayerWeights {string.Join(", ", merged.Select(l => $"_merged{l}"))};");
            s.Line($"private readonly {FloatArrayList} _mergedArrays = new(); // pinned; sessions hold it too, so they outlive no array they read");
        }
        s.Line();
        using (s.Block($"private {classIdentifier}({Models}.LlamaWeights weights)"))
        {
            s.Line("_weights = weights;");
            if (Heads.Count > 0) s.Line("// Exit heads are bound (and shape-checked) now, so a missing tensor fails the load, not a token.");
            for (var h = 0; h < Heads.Count; h++) s.Line($"_exitHead{h} = weights.BindExitHead({PlanLiterals.ExitHeadLiteral(Heads[h])});");
            if (merged.Length > 0) s.Line("// Merged layers are computed once here, per engine, as the reference engine does.");
            foreach (var l in merged) s.Line($"_merged{l} = {BindLayer(l, "_mergedArrays")};{MergeComment(l)}");
        }
    }

    public override void WriteSessionFields(SourceWriter s)
    {
        s.Line("// Weights: only the layers the schedule reads, straight from the file mapping.");
        s.Line($"private readonly {Models}.LlamaLayerWeights {string.Join(", ", Layers.Select(l => $"_layer{l}"))};");
        s.Line($"private readonly {Models}.WeightTensor _tokenEmbedding, _outputNorm, _output;");
        if (Heads.Count > 0) s.Line($"private readonly {Models}.ExitHeadWeights {HeadFields};");
        if (MergedLayers.Length > 0) s.Line($"private readonly {FloatArrayList} _mergedArrays; // the merged layers' arrays (the engine's)");
    }

    public override void WriteSessionInitialization(SourceWriter s)
    {
        foreach (var l in Layers) s.Line(MergeInto(l) is null ? $"_layer{l} = weights.Layer({l});" : $"_layer{l} = engine._merged{l};");
        if (MergedLayers.Length > 0) s.Line("_mergedArrays = engine._mergedArrays;");
        s.Line("_tokenEmbedding = weights.TokenEmbedding;");
        s.Line("_outputNorm = weights.OutputNorm;");
        s.Line($"_output = weights.Output;{(Manifest.TiedOutput ? " // tied: the token embedding" : "")}");
        for (var h = 0; h < Heads.Count; h++) s.Line($"_exitHead{h} = engine._exitHead{h};");
    }

    public override void WriteAccessors(SourceWriter s, ParallelOps ops)
    {
        foreach (var l in Layers)
        {
            s.Line($"private LayerWeights Layer{l}() => new(");
            using (s.Indent())
                for (var i = 0; i < LayerTensors.Length; i++)
                    s.Line($"_layer{l}.{Member(LayerTensors[i])}.Span" + (i + 1 < LayerTensors.Length ? "," : ");"));
            s.Line();
        }
        s.Line($"private {FloatReadOnlySpan} OutputNorm => _outputNorm.Span;");
        s.Line();
        s.Line($"private {FloatReadOnlySpan} Output => _output.Span;");
        for (var h = 0; h < Heads.Count; h++)
        {
            s.Line();
            s.Line($"private {FloatReadOnlySpan} ExitNorm{h} => _exitHead{h}.Norm.Span; // {Literals.Comment(Heads[h].Norm)}");
            s.Line();
            s.Line($"private {FloatReadOnlySpan} ExitOutput{h} => _exitHead{h}.Output.Span; // {Literals.Comment(Heads[h].Output)}");
        }
    }
}
