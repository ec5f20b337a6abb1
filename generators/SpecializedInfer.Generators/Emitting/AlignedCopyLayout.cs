using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>
/// The bound weights copied at load into one pinned array (the arena) whose element <c>_arenaBase</c> sits on a
/// 64-byte boundary. GGUF aligns tensors to 32 bytes only, and Vector512 loads that straddle two cache lines cost
/// about a third of the bandwidth when the weights come from cache; so every tensor starts at a multiple of 16
/// floats from the base, and matrix rows are padded to whole cache lines (their stride a multiple of 16).
/// </summary>
public sealed record AlignedCopyLayout : WeightLayout
{
    private AlignedCopyLayout(ModelManifest manifest, EquatableArray<int> layers, EquatableArray<ExitHead> heads, EquatableArray<LayerMerge> merges,
        EquatableArray<TensorSlot> slots, long length)
        : base(manifest, layers, heads, merges)
    {
        Slots = slots;
        Length = length;
    }

    /// <summary>Every bound tensor's place in the arena: the layers' tensors, OutputNorm, Output, then each exit head's norm and output.</summary>
    public EquatableArray<TensorSlot> Slots { get; }

    /// <summary>Floats in the arena from the aligned base.</summary>
    public long Length { get; }

    public static AlignedCopyLayout Create(ModelManifest m, EquatableArray<int> layers, EquatableArray<ExitHead> heads, EquatableArray<LayerMerge> merges)
    {
        var slots = new List<TensorSlot>();
        long offset = 0;
        void Add(string name, long length)
        {
            slots.Add(new TensorSlot(name, offset, length));
            offset += Pad(length);
        }
        foreach (var l in layers)
            foreach (var tensor in LayerTensorsOf(m))
            {
                var (rows, cols) = Shape(m, tensor);
                // A projection is a matrix whatever its row count (a dim-1 model's are one row): its kernel reads whole
                // padded rows. Only the norms are vectors.
                Add($"{tensor}{l}", IsProjection(tensor) ? (long)rows * PaddedStride(cols) : cols);
            }
        Add("OutputNorm", m.Dim);
        Add("Output", (long)m.VocabSize * PaddedStride(m.Dim));
        for (var h = 0; h < heads.Count; h++)
        {
            Add($"ExitNorm{h}", m.Dim);
            if (!SharesModelOutput(m, heads[h])) Add($"ExitOutput{h}", (long)m.VocabSize * PaddedStride(m.Dim));
        }
        return new AlignedCopyLayout(m, layers, heads, merges, slots.ToEquatableArray(), offset);
    }

    private static long Pad(long floats) => (floats + 15) / 16 * 16;

    private static int PaddedStride(int cols) => cols % 16 != 0 ? (int)Pad(cols) : cols;

    /// <summary>Padded to 16 floats, so every row starts on a cache line.</summary>
    public override int Stride(int cols) => PaddedStride(cols);

    public TensorSlot Slot(string name)
    {
        Debug.Assert(Slots.Any(s => s.Name == name), $"every bound tensor has a slot ({name})");
        return Slots.First(s => s.Name == name);
    }

    private static string I(long v) => Literals.Int(v);

    public override void WriteEngineMembers(SourceWriter s, string classIdentifier)
    {
        s.Line($"private readonly float[] _arena; // the bound weights, 64-byte aligned ({Length * 4 / 1024} KiB: cache-sized, so copied)");
        s.Line("private readonly int _arenaBase;");
        s.Line();
        using (s.Block($"private {classIdentifier}({Models}.LlamaWeights weights)"))
        {
            s.Line("_weights = weights;");
            s.Line("_arena = Session.CopyWeights(weights, out _arenaBase);");
        }
    }

    public override void WriteSessionFields(SourceWriter s)
    {
        s.Line($"// Weights: the layers the schedule reads ({string.Join(", ", Layers)}), the output norm and matrix, copied into one");
        s.Line("// 64-byte-aligned array at load; each tensor starts at a multiple of 16 floats from _arenaBase.");
        s.Line("private readonly float[] _arena;");
        s.Line("private readonly int _arenaBase;");
        s.Line($"private const int ArenaLength = {I(Length)};");
        s.Line($"private readonly {Models}.WeightTensor _tokenEmbedding;");
    }

    public override void WriteSessionInitialization(SourceWriter s)
    {
        s.Line("_arena = engine._arena;");
        s.Line("_arenaBase = engine._arenaBase;");
        s.Line("_tokenEmbedding = weights.TokenEmbedding;");
    }

    public override void WriteAccessors(SourceWriter s, ParallelOps ops)
    {
        s.Line("/// <summary>A tensor of the arena: offsets are multiples of 16 floats from the 64-byte-aligned base.</summary>");
        s.Line($"private {FloatReadOnlySpan} Arena(int offset, int length) => new(_arena, _arenaBase + offset, length);");
        s.Line();
        foreach (var l in Layers)
        {
            s.Line($"private LayerWeights Layer{l}() => new(");
            using (s.Indent())
                for (var i = 0; i < LayerTensors.Length; i++)
                    s.Line($"{Camel(LayerTensors[i])}: {Arena(LayerTensors[i] + l)}" + (i + 1 < LayerTensors.Length ? "," : ");"));
            s.Line();
        }
        s.Line($"private {FloatReadOnlySpan} OutputNorm => {Arena("OutputNorm")};");
        s.Line();
        s.Line($"private {FloatReadOnlySpan} Output => {Arena("Output")};{(Manifest.TiedOutput ? " // tied: a copy of the token embedding" : "")}");
        s.Line();
        for (var h = 0; h < Heads.Count; h++)
        {
            s.Line($"private {FloatReadOnlySpan} ExitNorm{h} => {Arena($"ExitNorm{h}")}; // {Literals.Comment(Heads[h].Norm)}");
            s.Line();
            s.Line(SharesModelOutput(h)
                ? $"private {FloatReadOnlySpan} ExitOutput{h} => Output; // {Literals.Comment(Heads[h].Output)}: the model's own, one copy"
                : $"private {FloatReadOnlySpan} ExitOutput{h} => {Arena($"ExitOutput{h}")}; // {Literals.Comment(Heads[h].Output)}");
            s.Line();
        }
        WriteCopyWeights(s);
    }

    private string Arena(string slot)
    {
        var t = Slot(slot);
        return $"Arena({I(t.Offset)}, {I(t.Length)})";
    }

    /// <summary>CopyWeights: the load-time copy into the arena (CopyRows when rows are padded).</summary>
    private void WriteCopyWeights(SourceWriter s)
    {
        var m = Manifest;
        s.Line("/// <summary>Copies the bound tensors into one pinned array whose element _arenaBase sits on a 64-byte boundary.</summary>");
        using (s.Block($"internal static float[] CopyWeights({Models}.LlamaWeights weights, out int arenaBase)"))
        {
            s.Line($"var arena = {GC}.AllocateUninitializedArray<float>(ArenaLength + 16, pinned: true);");
            s.Line($"var address = {Marshal}.UnsafeAddrOfPinnedArrayElement(arena, 0).ToInt64();");
            s.Line("arenaBase = (int)((64 - (address & 63)) & 63) / 4; // pinned: the array never moves");
            var merging = Layers.Any(l => MergeInto(l) is not null);
            if (merging) s.Line($"var merged = new {FloatArrayList}(); // the merged layers' arrays, alive until copied into the arena");
            foreach (var l in Layers)
            {
                s.Line($"var layer{l} = {BindLayer(l, "merged")};{MergeComment(l)}");
                foreach (var tensor in LayerTensors)
                {
                    var (rows, cols) = Shape(tensor);
                    s.Line(CopyStatement($"layer{l}.{Member(tensor)}", Slot($"{tensor}{l}"), cols, rowByRow: IsProjection(tensor), rows));
                }
            }
            if (merging) s.Line($"{GC}.KeepAlive(merged);");
            s.Line(CopyStatement("weights.OutputNorm", Slot("OutputNorm"), m.Dim, rowByRow: false));
            s.Line(CopyStatement("weights.Output", Slot("Output"), m.Dim, rowByRow: true, m.VocabSize));
            for (var h = 0; h < Heads.Count; h++)
            {
                s.Line($"var exitHead{h} = weights.BindExitHead({PlanLiterals.ExitHeadLiteral(Heads[h])}); // bound and shape-checked at load");
                s.Line($"exitHead{h}.Norm.Span.CopyTo(new {FloatSpan}(arena, arenaBase + {I(Slot($"ExitNorm{h}").Offset)}, {I(m.Dim)}));");
                if (!SharesModelOutput(h)) s.Line(CopyStatement($"exitHead{h}.Output", Slot($"ExitOutput{h}"), m.Dim, rowByRow: true, m.VocabSize));
            }
            s.Line("return arena;");
        }
        if (Projections.Append(Head).Any(matrix => matrix.Padded))
        {
            s.Line();
            s.Line("/// <summary>Copies a rows×cols matrix into rows of <paramref name=\"stride\"/> floats (the padding is never read).</summary>");
            using (s.Block($"private static void CopyRows({FloatReadOnlySpan} source, float[] arena, int at, int rows, int cols, int stride)"))
                s.Line($"for (var r = 0; r < rows; r++) source.Slice(r * cols, cols).CopyTo(new {FloatSpan}(arena, at + r * stride, cols));");
        }
    }

    /// <summary>One tensor into its slot: row by row when it is a matrix whose rows are padded, else in one copy.</summary>
    private string CopyStatement(string tensor, TensorSlot slot, int cols, bool rowByRow, int rows = 1) =>
        rowByRow && Stride(cols) != cols
            ? $"CopyRows({tensor}.Span, arena, arenaBase + {I(slot.Offset)}, {rows}, {cols}, {Stride(cols)});"
            : $"{tensor}.Span.CopyTo(new {FloatSpan}(arena, arenaBase + {I(slot.Offset)}, {I(slot.Length)}));";
}
