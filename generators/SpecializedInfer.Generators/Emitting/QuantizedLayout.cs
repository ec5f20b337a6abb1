using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>
/// Layer matrices kept quantized (the manifest's <c>weightType</c> is q8_0 or q4_0): at load each is repacked into
/// tiles of 16 rows (<see cref="TiledQuantLayout"/>, the runtime's <c>RepackedLayer</c>: one pinned array per matrix
/// whose data starts on a 64-byte boundary), and a step quantizes each input to Q8_0 blocks once
/// (<c>QuantizedActivations</c>, the reference's arithmetic) for the integer products that read it. The engine
/// multiplies in integers exactly the matrices the reference engine does, by the weights' own rule: the repacked
/// layers' matrices of more than one row; a layer merged at load (LaCo) is F32 and runs the float kernels, and so
/// does a one-row matrix. A head's type is the file's (a Q4_0 file's output is Q6_K when 256 divides the width, else
/// Q8_0), so the head kernels for F32, Q8_0 and Q4_0 are all generated, a Q4_K/Q6_K head is multiplied by the
/// runtime's <c>SuperBlockDot.Rows</c> (the reference engine's row product, with Q8_K activations), and the matrix's
/// type picks one at run time.
/// </summary>
public sealed record QuantizedLayout : WeightLayout
{
    public QuantizedLayout(ModelManifest manifest, EquatableArray<int> layers, EquatableArray<ExitHead> heads, EquatableArray<LayerMerge> merges,
        TiledQuantType type, bool batchedHeads)
        : base(manifest, layers, heads, merges)
    {
        Type = type;
        BatchedHeads = batchedHeads;
    }

    /// <summary>The layers' matrix type.</summary>
    public TiledQuantType Type { get; }

    /// <summary>The head also runs for a batch of positions (a lossless plan's Verify).</summary>
    public bool BatchedHeads { get; }

    /// <summary>The inputs of the integer products are quantized: the steps between them follow the reference bit for bit.</summary>
    public override bool ReferenceArithmetic => true;

    /// <summary>Prompts keep the batched integer kernels (and the exact F32 ones for any F32 matrix).</summary>
    public override bool PromptGemm => false;

    /// <summary>F32 matrices (merged layers, F32 heads) are read where they are: rows at their column count.</summary>
    public override int Stride(int cols) => cols;

    private bool Merged(int layer) => MergeInto(layer) is not null;

    private IEnumerable<int> RepackedLayers => Layers.Where(l => !Merged(l));

    private IEnumerable<int> MergedLayers => Layers.Where(Merged);

    /// <summary>A projection multiplied in integers where the layer keeps its file weights: more than one row (a one-row Q8_0/Q4_0 matrix is expanded to F32 at load).</summary>
    private bool Tiled(string tensor) => IsProjection(tensor) && Shape(tensor).Rows > 1;

    private bool Tiled(int layer, string tensor) => !Merged(layer) && Tiled(tensor);

    public QuantizedMatrixShape QuantizedProjection(string tensor)
    {
        var (rows, cols) = Shape(tensor);
        return new QuantizedMatrixShape(Type, rows, cols, ResidualAdd: tensor is "Output" or "Down");
    }

    /// <summary>The head in either integer type (which one runs is the file's).</summary>
    private IEnumerable<QuantizedMatrixShape> QuantizedHeads =>
        new[] { TiledQuantType.Q8_0, TiledQuantType.Q4_0 }.Select(t => new QuantizedMatrixShape(t, Manifest.VocabSize, Manifest.Dim, ResidualAdd: false));

    /// <summary>
    /// The projections computed in F32 (all of them in merged layers, and one-row ones everywhere), each row by the
    /// reference's Dot: their outputs are quantized next.
    /// </summary>
    private IEnumerable<MatrixShape> FloatProjections =>
        ProjectionTensors.Where(t => MergedLayers.Any() || !Tiled(t)).Select(FloatProjection).Distinct();

    private MatrixShape FloatProjection(string tensor) => Projection(tensor) with { ReferenceOrder = true };

    private IEnumerable<QuantizedMatrixShape> TiledProjections =>
        RepackedLayers.Any() ? ProjectionTensors.Where(Tiled).Select(QuantizedProjection).Distinct() : Enumerable.Empty<QuantizedMatrixShape>();

    public override IEnumerable<MatrixShape> MatVecs => FloatProjections.Append(Head).Distinct();

    public override IEnumerable<MatrixShape> MatMats(bool batchedHeads) => batchedHeads ? FloatProjections.Append(Head).Distinct() : FloatProjections;

    public override IEnumerable<QuantizedMatrixShape> QuantizedMatVecs => TiledProjections.Concat(QuantizedHeads).Distinct();

    public override IEnumerable<QuantizedMatrixShape> QuantizedMatMats(bool batchedHeads) =>
        batchedHeads ? TiledProjections.Concat(QuantizedHeads).Distinct() : TiledProjections;

    /// <summary>The session constant naming a projection's input width.</summary>
    private static string InputWidth(string tensor) => tensor switch
    {
        "Output" => "QueryDim",
        "Down" => "HiddenDim",
        _ => "Dim",
    };

    public override void WriteProducts(SourceWriter s, ParallelOps ops, int layer, string input, string? count, params (string Tensor, string Output)[] products)
    {
        if (products.Any(p => Tiled(layer, p.Tensor)))
            s.Line(count is null
                ? $"_xq.Quantize({input}, {InputWidth(products[0].Tensor)}, 1); // Q8_0 blocks, once for the products below"
                : $"_bxq.Quantize({input}, {InputWidth(products[0].Tensor)}, {count}); // Q8_0 blocks of every row, once for the products below");
        var op = ops.Add(ProductsSummary(layer, count, products), b =>
        {
            b.Line($"var w = Layer{layer}();");
            var ranges = new RowRanges(b);
            foreach (var (tensor, output) in products)
            {
                var rows = ranges.Of(Shape(tensor).Rows);
                if (!Tiled(layer, tensor))
                    b.Line(FloatProduct(FloatProjection(tensor), $"w.{tensor}", input, output, count, rows));
                else
                {
                    var m = QuantizedProjection(tensor);
                    b.Line(count is null ? $"{Kernels}.{m.MatVecName}(w.{tensor}, _xq, {output}, {rows});" : $"{Kernels}.{m.MatMatName}(w.{tensor}, _bxq, {output}, {count}, {rows});");
                }
                WriteBias(b, tensor, output, count, rows);
            }
        });
        s.Line(ops.Call(op, "pos", count ?? "1"));
    }

    /// <summary>The field holding a head matrix: Output → _output, ExitOutput0 → _exitOutput0.</summary>
    private static string HeadField(string matrix) => "_" + Camel(matrix);

    public override void WriteHeadProduct(SourceWriter s, ParallelOps ops, string matrix, string input, string output, string? count)
    {
        System.Diagnostics.Debug.Assert(count is not null || (input == "_xb" && output == "_logits"), "one position's head reads _xb into _logits (HeadProduct)");
        s.Line(count is null ? $"HeadProduct({HeadField(matrix)});" : $"HeadProducts({HeadField(matrix)}, {input}, {output}, {count});");
    }

    /// <summary>One row dequantized on the spot (the embedding stays in the file, whatever its type).</summary>
    public override string EmbeddingRow(string token, string destination) => $"_tokenEmbedding.ReadRow({token}, {destination});";

    /// <summary>A tensor's span type in QuantizedLayerWeights: the repacked tiles as bytes, norms and one-row matrices as floats.</summary>
    private string SpanType(string tensor) => Tiled(tensor) ? ByteReadOnlySpan : FloatReadOnlySpan;

    public override void WriteLayerWeightsTypes(SourceWriter s)
    {
        s.Line($"/// <summary>One layer's tensors as spans, built per step on the stack: the norms as floats, the {Name(Type)} matrices as their tiles.</summary>");
        using (s.Block("private readonly ref struct QuantizedLayerWeights"))
        {
            foreach (var t in LayerTensors) s.Line($"public readonly {SpanType(t)} {t};");
            s.Line();
            using (s.Block($"public QuantizedLayerWeights({string.Join(", ", LayerTensors.Select(t => $"{SpanType(t)} {Camel(t)}"))})"))
                foreach (var t in LayerTensors) s.Line($"{t} = {Camel(t)};");
        }
        if (!MergedLayers.Any()) return;
        s.Line();
        WriteFloatLayerWeights(s); // merged layers
    }

    private static string Name(TiledQuantType type) => type.ToString();

    private string HeadFields => string.Join(", ", Heads.Select((_, h) => $"_exitHead{h}"));

    private string HeadOutputFields => string.Join(", ", new[] { "_output" }.Concat(Heads.Select((_, h) => $"_exitOutput{h}")));

    public override void WriteEngineMembers(SourceWriter s, string classIdentifier)
    {
        var repacked = RepackedLayers.ToList();
        var merged = MergedLayers.ToList();
        if (repacked.Count > 0) s.Line($"private readonly {RepackedLayer} {string.Join(", ", repacked.Select(l => $"_repacked{l}"))};");
        if (merged.Count > 0)
        {
            s.Line($"private readonly {Models}.LlamaLayerWeights {string.Join(", ", merged.Select(l => $"_merged{l}"))};");
            s.Line($"private readonly {FloatArrayList} _mergedArrays = new(); // pinned; sessions hold it too, so they outlive no array they read");
        }
        if (Heads.Count > 0) s.Line($"private readonly {Models}.ExitHeadWeights {HeadFields};");
        s.Line($"private readonly {RepackedMatrix} {HeadOutputFields};");
        s.Line();
        using (s.Block($"private {classIdentifier}({Models}.LlamaWeights weights)"))
        {
            s.Line("_weights = weights;");
            if (repacked.Count > 0)
                s.Line($"// The {Name(Type)} matrices repacked into 16-row tiles once per engine (64-byte aligned); sessions share them.");
            foreach (var l in repacked) s.Line($"_repacked{l} = new {RepackedLayer}(weights.Layer({l}));");
            if (merged.Count > 0) s.Line("// Merged layers are computed once here, per engine, as the reference engine does: F32, multiplied in floats.");
            foreach (var l in merged) s.Line($"_merged{l} = {BindLayer(l, "_mergedArrays")};{MergeComment(l)}");
            s.Line($"_output = {RepackedMatrix}.Of(weights.Output); // {(Manifest.TiedOutput ? "tied: the token embedding; " : "")}Q8_0/Q4_0 repacked, any other type as floats");
            if (Heads.Count > 0) s.Line("// Exit heads are bound (and shape-checked) now, so a missing tensor fails the load, not a token.");
            for (var h = 0; h < Heads.Count; h++)
            {
                s.Line($"_exitHead{h} = weights.BindExitHead({PlanLiterals.ExitHeadLiteral(Heads[h])});");
                s.Line(SharesModelOutput(h)
                    ? $"_exitOutput{h} = _output; // {Literals.Comment(Heads[h].Output)}: the model's own, repacked once"
                    : $"_exitOutput{h} = {RepackedMatrix}.Of(_exitHead{h}.Output);");
            }
        }
    }

    public override void WriteSessionFields(SourceWriter s)
    {
        var repacked = RepackedLayers.ToList();
        var merged = MergedLayers.ToList();
        s.Line($"// Weights: the layers the schedule reads ({string.Join(", ", Layers)}), their {Name(Type)} matrices repacked into tiles (the engine's),");
        s.Line("// the norms and the token embedding in the file mapping, the heads as the file stores them.");
        if (repacked.Count > 0) s.Line($"private readonly {RepackedLayer} {string.Join(", ", repacked.Select(l => $"_repacked{l}"))};");
        if (merged.Count > 0)
        {
            s.Line($"private readonly {Models}.LlamaLayerWeights {string.Join(", ", merged.Select(l => $"_merged{l}"))};");
            s.Line($"private readonly {FloatArrayList} _mergedArrays; // the merged layers' arrays (the engine's)");
        }
        s.Line($"private readonly {Models}.WeightTensor _tokenEmbedding, _outputNorm;");
        if (Heads.Count > 0) s.Line($"private readonly {Models}.ExitHeadWeights {HeadFields};");
        s.Line($"private readonly {RepackedMatrix} {HeadOutputFields};");
        var widest = System.Math.Max(Manifest.Dim, System.Math.Max(Manifest.QueryDim, Manifest.HiddenDim));
        s.Line("// Inputs of the integer products quantized to Q8_0 blocks (the reference's ActivationQuantizer): one position, a batch.");
        s.Line($"private readonly {QuantizedActivations} _xq = new(1, {widest}), _bxq = new(MaxBatch, {widest});");
        if (SuperBlockHeads)
            s.Line($"private readonly byte[] _xk = new byte[{SuperBlockActivationQuantizer}.Bytes(Dim)]; // a head's input as Q8_K blocks (Q4_K/Q6_K heads)");
    }

    /// <summary>Whether a head may be Q4_K/Q6_K: its rows (the model's width) are whole super-blocks of 256.</summary>
    private bool SuperBlockHeads => Manifest.Dim % 256 == 0;

    public override void WriteSessionInitialization(SourceWriter s)
    {
        foreach (var l in RepackedLayers) s.Line($"_repacked{l} = engine._repacked{l};");
        foreach (var l in MergedLayers) s.Line($"_merged{l} = engine._merged{l};");
        if (MergedLayers.Any()) s.Line("_mergedArrays = engine._mergedArrays;");
        s.Line("_tokenEmbedding = weights.TokenEmbedding;");
        s.Line("_outputNorm = weights.OutputNorm;");
        s.Line("_output = engine._output;");
        for (var h = 0; h < Heads.Count; h++)
        {
            s.Line($"_exitHead{h} = engine._exitHead{h};");
            s.Line($"_exitOutput{h} = engine._exitOutput{h};");
        }
    }

    public override void WriteAccessors(SourceWriter s, ParallelOps ops)
    {
        foreach (var l in Layers)
        {
            if (Merged(l))
            {
                s.Line($"private LayerWeights Layer{l}() => new({MergeComment(l)}");
                using (s.Indent())
                    for (var i = 0; i < LayerTensors.Length; i++)
                        s.Line($"_merged{l}.{Member(LayerTensors[i])}.Span" + (i + 1 < LayerTensors.Length ? "," : ");"));
            }
            else
            {
                s.Line($"private QuantizedLayerWeights Layer{l}() => new(");
                using (s.Indent())
                    for (var i = 0; i < LayerTensors.Length; i++)
                    {
                        var t = LayerTensors[i];
                        var value = !IsProjection(t) ? $"_repacked{l}.Weights.{Member(t)}.Span" : Tiled(t) ? $"_repacked{l}.{t}.Blocks" : $"_repacked{l}.{t}.Floats";
                        s.Line(value + (i + 1 < LayerTensors.Length ? "," : ");"));
                    }
            }
            s.Line();
        }
        s.Line($"private {FloatReadOnlySpan} OutputNorm => _outputNorm.Span;");
        for (var h = 0; h < Heads.Count; h++)
        {
            s.Line();
            s.Line($"private {FloatReadOnlySpan} ExitNorm{h} => _exitHead{h}.Norm.Span; // {Literals.Comment(Heads[h].Norm)}");
        }
        s.Line();
        WriteHeadProductMethod(s, ops);
        if (BatchedHeads)
        {
            s.Line();
            WriteHeadProducts(s);
        }
    }

    /// <summary>
    /// HeadProduct: one position's logits (_xb into _logits) from a head matrix as the file stores it, Q8_0 or Q4_0 in
    /// integers (_xb quantized first), else in floats; its rows split over the threads.
    /// </summary>
    private void WriteHeadProductMethod(SourceWriter s, ParallelOps ops)
    {
        var op = ops.Add("The head's product with _head", b =>
        {
            b.Line(ParallelOps.RowsOf("r", Head.Rows));
            b.Line("var head = _head!; // set by HeadProduct before the op runs");
            using (b.Block("switch (head.Type)"))
            {
                foreach (var m in QuantizedHeads)
                    b.Line($"case {GgmlType}.{m.TypeName}: {Kernels}.{m.MatVecName}(head.Blocks, _xq, _logits, r.From, r.To); break;");
                if (SuperBlockHeads)
                    b.Line($"case {GgmlType}.Q4_K or {GgmlType}.Q6_K: {SuperBlockDot}.Rows(head.Tensor, _xk, _logits, r.From, r.To); break;");
                b.Line($"default: {Kernels}.{Head.MatVecName}(head.Floats, _xb, _logits, r.From, r.To); break;");
            }
        });
        s.Line("private " + RepackedMatrix + "? _head; // the head matrix HeadProduct's op multiplies");
        s.Line();
        s.Line($"/// <summary>A head's logits: its matrix multiplied as the file stores it, Q8_0 or Q4_0{(SuperBlockHeads ? " (Q4_K or Q6_K)" : "")} in integers (_xb quantized first{(SuperBlockHeads ? ", to Q8_0 (Q8_K) blocks" : "")}), else in floats.</summary>");
        using (s.Block($"private void HeadProduct({RepackedMatrix} head)"))
        {
            if (SuperBlockHeads)
            {
                s.Line($"if (head.Type is {GgmlType}.Q4_K or {GgmlType}.Q6_K) {SuperBlockActivationQuantizer}.Q8_K(_xb, _xk);");
                s.Line($"else if (head.Type != {GgmlType}.F32) _xq.Quantize(_xb, Dim, 1);");
            }
            else s.Line($"if (head.Type != {GgmlType}.F32) _xq.Quantize(_xb, Dim, 1);");
            s.Line("_head = head;");
            s.Line(ops.Call(op, "0", "1"));
        }
    }

    /// <summary>HeadProducts: n rows' logits (a Verify), on this thread.</summary>
    private void WriteHeadProducts(SourceWriter s)
    {
        s.Line("/// <summary>A head's logits for rows 0..n−1: its matrix multiplied as the file stores it, Q8_0 or Q4_0 in integers (input quantized first), else in floats.</summary>");
        using (s.Block($"private void HeadProducts({RepackedMatrix} head, {FloatReadOnlySpan} x, {FloatSpan} logits, int n)"))
        using (s.Block("switch (head.Type)"))
        {
            foreach (var m in QuantizedHeads)
            {
                s.Line($"case {GgmlType}.{m.TypeName}:");
                using (s.Indent())
                {
                    s.Line("_bxq.Quantize(x, Dim, n);");
                    s.Line($"{Kernels}.{m.MatMatName}(head.Blocks, _bxq, logits, n, 0, {Head.Rows});");
                    s.Line("break;");
                }
            }
            if (SuperBlockHeads)
            {
                s.Line($"case {GgmlType}.Q4_K or {GgmlType}.Q6_K:");
                using (s.Indent())
                {
                    using (s.Block("for (var j = 0; j < n; j++)"))
                    {
                        s.Line($"{SuperBlockActivationQuantizer}.Q8_K(x.Slice(j * Dim, Dim), _xk);");
                        s.Line($"{SuperBlockDot}.Rows(head.Tensor, _xk, logits.Slice(j * {Head.Rows}, {Head.Rows}), 0, {Head.Rows});");
                    }
                    s.Line("break;");
                }
            }
            s.Line("default:");
            using (s.Indent())
            {
                s.Line($"{Kernels}.{Head.MatMatName}(head.Floats, x, logits, n, 0, {Head.Rows});");
                s.Line("break;");
            }
        }
    }
}
