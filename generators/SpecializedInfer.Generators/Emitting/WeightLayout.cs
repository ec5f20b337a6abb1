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
    /// <summary>A LLaMA layer's tensors, in the order <c>LayerWeights</c> holds them.</summary>
    private static readonly string[] LlamaLayerTensors = { "AttentionNorm", "Query", "Key", "Value", "Output", "FeedForwardNorm", "Gate", "Up", "Down" };

    /// <summary>A layer's tensors with Qwen2's projection biases after them.</summary>
    private static readonly string[] BiasedLayerTensors = LlamaLayerTensors.Concat(new[] { "QueryBias", "KeyBias", "ValueBias" }).ToArray();

    /// <summary>The tensors of a layer of <paramref name="m"/>'s architecture, in the order <c>LayerWeights</c> holds them.</summary>
    public static string[] LayerTensorsOf(ModelManifest m) => m.AttentionBias ? BiasedLayerTensors : LlamaLayerTensors;

    /// <summary>This engine's layer tensors (<see cref="LayerTensorsOf"/>).</summary>
    public string[] LayerTensors => LayerTensorsOf(Manifest);

    /// <summary>The bias added after <paramref name="projection"/>'s product (QueryBias for Query...), or null: none, or the architecture has none.</summary>
    public string? BiasOf(string projection) =>
        Manifest.AttentionBias && projection is "Query" or "Key" or "Value" ? projection + "Bias" : null;

    /// <summary>
    /// A layer tensor as a member of the runtime's <c>LlamaLayerWeights</c>: the matrices and norms by their name,
    /// the biases inside <c>Biases</c> (bound whenever the architecture has them).
    /// </summary>
    public static string Member(string tensor) => tensor switch
    {
        "QueryBias" => "Biases!.Query",
        "KeyBias" => "Biases!.Key",
        "ValueBias" => "Biases!.Value",
        _ => tensor,
    };

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
    /// Whether exit head <paramref name="h"/> multiplies by the model's own output matrix (an adapter head names it):
    /// then the layout hands out the model's copy instead of holding a second one of vocab × dim.
    /// </summary>
    protected bool SharesModelOutput(int h) => SharesModelOutput(Manifest, Heads[h]);

    protected static bool SharesModelOutput(ModelManifest m, ExitHead head) =>
        head.Output == (m.TiedOutput ? m.Tensors.TokenEmbedding : m.Tensors.Output);

    /// <summary>
    /// Models whose layer matrices are Q8_0 or Q4_0 (the manifest's <c>weightType</c>) keep them quantized, repacked
    /// into tiles at load (<see cref="QuantizedLayout"/>). Otherwise the weights are F32 (expanded at load if the file
    /// stores another type): models whose bound weights fit the spec's limit (cache-sized) get them copied into one
    /// 64-byte-aligned array (<see cref="AlignedCopyLayout"/>); larger models stream from the file mapping
    /// (<see cref="MappedLayout"/>).
    /// </summary>
    public static WeightLayout For(EngineSpec spec)
    {
        var layers = spec.Schedule.WeightLayers.ToEquatableArray();
        var heads = spec.Schedule.Steps.Select(s => s.ExitAfter?.Head).Where(h => h is not null).Select(h => h!).Distinct().ToEquatableArray();
        var merges = spec.Schedule.Merges.ToEquatableArray();
        if (TiledQuantLayout.TypeOf(spec.Manifest.WeightType) is { } quantized)
            return new QuantizedLayout(spec.Manifest, layers, heads, merges, quantized, batchedHeads: SpeculativeSessionEmitter.AppliesTo(spec.Schedule));
        var copy = AlignedCopyLayout.Create(spec.Manifest, layers, heads, merges);
        return copy.Length * 4 <= spec.WeightCopyLimit ? copy : new MappedLayout(spec.Manifest, layers, heads, merges);
    }

    /// <summary>Rows and columns of a layer tensor (norms and biases are one row).</summary>
    public (int Rows, int Cols) Shape(string tensor) => Shape(Manifest, tensor);

    protected static (int Rows, int Cols) Shape(ModelManifest m, string tensor) => tensor switch
    {
        "AttentionNorm" or "FeedForwardNorm" => (1, m.Dim),
        "Query" => (m.QueryDim, m.Dim),
        "Key" or "Value" => (m.KvDim, m.Dim),
        "Output" => (m.Dim, m.QueryDim),
        "Gate" or "Up" => (m.HiddenDim, m.Dim),
        "Down" => (m.Dim, m.HiddenDim),
        "QueryBias" => (1, m.QueryDim),
        "KeyBias" or "ValueBias" => (1, m.KvDim),
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

    /// <summary>
    /// True when the F32 steps between the products (RMSNorm, attention) must give the reference engine's very bits:
    /// a layout whose products quantize their inputs, where a last-bit difference can move a value across a rounding
    /// step of the 8-bit quantization and change the logits by 1e-2 instead of 1e-7. Such engines sum squares and
    /// attend with the reference's TensorPrimitives calls in its order, and keep keys as it does (a row per position);
    /// the others keep their own vector kernels and transposed keys (equal to the reference within 1e-4).
    /// </summary>
    public virtual bool ReferenceArithmetic => false;

    /// <summary>The F32 matrix kernels (one position) the engine calls: the projections and the head.</summary>
    public virtual IEnumerable<MatrixShape> MatVecs => Projections.Append(Head).Distinct();

    /// <summary>
    /// The F32 batched kernels: only lossless plans' (<paramref name="batchedHeads"/>), whose Verify runs the exact
    /// batched projections and the head for every position; prompts run the runtime's <c>PromptGemm</c> instead.
    /// </summary>
    public virtual IEnumerable<MatrixShape> MatMats(bool batchedHeads) => batchedHeads ? Projections.Append(Head).Distinct() : Enumerable.Empty<MatrixShape>();

    /// <summary>The integer kernels (one position) for Q8_0/Q4_0 matrices; none for F32 layouts.</summary>
    public virtual IEnumerable<QuantizedMatrixShape> QuantizedMatVecs => Enumerable.Empty<QuantizedMatrixShape>();

    /// <summary>The batched integer kernels.</summary>
    public virtual IEnumerable<QuantizedMatrixShape> QuantizedMatMats(bool batchedHeads) => Enumerable.Empty<QuantizedMatrixShape>();

    // -------------------------------------------------------------------------------------------------------------
    // Emit functions: each layout writes how its weights are held, bound and read.

    /// <summary>
    /// The products of one input with some of a layer's matrices (the step's <c>w</c>, a <c>Layer{l}()</c>): each
    /// (tensor, output) into its output, for one position, or for <paramref name="count"/> positions of batch rows.
    /// All read the same <paramref name="input"/>, so a layout that quantizes inputs does it once for them.
    /// The products run on every thread (an op of <paramref name="ops"/>: each thread its rows, in whole tiles).
    /// </summary>
    public virtual void WriteProducts(SourceWriter s, ParallelOps ops, int layer, string input, string? count, params (string Tensor, string Output)[] products)
    {
        var op = ops.Add(ProductsSummary(layer, count, products), b =>
        {
            b.Line($"var w = Layer{layer}();");
            var ranges = new RowRanges(b);
            foreach (var (tensor, output) in products)
            {
                var m = Projection(tensor);
                var rows = ranges.Of(m.Rows);
                b.Line(FloatProduct(m, $"w.{tensor}", input, output, count, rows));
                WriteBias(b, tensor, output, count, rows);
            }
        });
        s.Line(ops.Call(op, "pos", count ?? "1"));
    }

    /// <summary>
    /// True when the prompt path's batched products run as the runtime's <c>PromptGemm</c> (outer-product form, one
    /// FMA chain per output): F32 matrices. Layouts that quantize their inputs keep their batched kernels.
    /// </summary>
    public virtual bool PromptGemm => true;

    /// <summary>
    /// The prompt path's products of one input (a chunk's <paramref name="input"/> rows, <c>n</c> of them) with some
    /// of a layer's matrices, after <paramref name="perPosition"/> (a statement over position <c>j</c> writing the
    /// input row, e.g. the norm) when given. With <see cref="PromptGemm"/> one op runs that statement and transposes
    /// the input into <c>_bxT</c>, positions split over the threads, and the next runs every product as the GEMM, rows
    /// split; when <paramref name="exactToo"/> (lossless plans, whose Verify shares the batched steps) the exact batched
    /// kernels run instead while <c>_exactBatch</c> is set, so verification stays bit-identical to Forward(int).
    /// </summary>
    public virtual void WritePromptProducts(SourceWriter s, ParallelOps ops, int layer, string input, string? perPosition, bool exactToo, params (string Tensor, string Output)[] products) =>
        WriteExactOrGemm(s, exactToo,
            () => WriteSerialProducts(s, ops, layer, input, perPosition, products),
            () => WriteGemmProducts(s, ops, layer, input, perPosition, products));

    /// <summary>
    /// The prompt path's feed-forward after its norm (<paramref name="perPosition"/>, into <c>_bxb</c>): gate and up,
    /// SwiGLU, down with the residual add. With <see cref="PromptGemm"/> gate and up run as one fused op
    /// (<c>PromptGemm.MultiplySwiGlu</c>: each thread's hidden rows of both products, SwiGLU on them, written
    /// transposed into <c>_bhT</c>), so the down projection's input needs no serial SwiGLU or transposition; otherwise
    /// (and under <c>_exactBatch</c>) the batched kernels with SwiGLU per position between them.
    /// </summary>
    public virtual void WritePromptFeedForward(SourceWriter s, ParallelOps ops, int layer, string perPosition, string swiGlu, bool exactToo) =>
        WriteExactOrGemm(s, exactToo,
            () => WriteSerialFeedForward(s, ops, layer, perPosition, swiGlu),
            () => WriteGemmFeedForward(s, ops, layer, perPosition));

    /// <summary>
    /// The one choice every prompt-path construct makes: the batched kernels (<paramref name="exact"/>) when this
    /// layout has no prompt GEMM, the GEMM (<paramref name="gemm"/>) otherwise, and both behind <c>_exactBatch</c>
    /// when <paramref name="exactToo"/> (lossless plans' Verify runs the same steps and needs Forward(int)'s bits).
    /// </summary>
    private void WriteExactOrGemm(SourceWriter s, bool exactToo, System.Action exact, System.Action gemm)
    {
        if (!PromptGemm) exact();
        else if (!exactToo) gemm();
        else
        {
            using (s.Block("if (_exactBatch)")) exact();
            using (s.Block("else")) gemm();
        }
    }

    /// <summary>The batched kernels' feed-forward: norm and SwiGLU per position on this thread, the products split.</summary>
    private void WriteSerialFeedForward(SourceWriter s, ParallelOps ops, int layer, string perPosition, string swiGlu)
    {
        WriteSerialProducts(s, ops, layer, "_bxb.Span", perPosition, ("Gate", "_bgate.Span"), ("Up", "_bup.Span"));
        s.Line($"for (var j = 0; j < n; j++) {swiGlu}");
        WriteProducts(s, ops, layer, "_bgate.Span", "n", ("Down", "_bx.Span"));
    }

    /// <summary>The GEMM feed-forward: norm and transposition, the fused gate/up/SwiGLU op, then the down projection from <c>_bhT</c>.</summary>
    private void WriteGemmFeedForward(SourceWriter s, ParallelOps ops, int layer, string perPosition)
    {
        var gate = Projection("Gate");
        WriteTransposition(s, ops, layer, "_bxb.Span", gate.Cols, perPosition);
        var fused = ops.Add($"Layer {layer}'s gate and up prompt GEMMs with SwiGLU for n positions (hidden rows transposed)", b =>
        {
            b.Line($"var w = Layer{layer}();");
            b.Line(ParallelOps.RowsOf("r", gate.Rows));
            b.Line($"{PromptGemmType}.MultiplySwiGlu(w.Gate, w.Up, {gate.Stride}, {gate.Cols}, _bxT.Span, n, _bhT.Span, r.From, r.To); // both products of a hidden row on the same thread");
        });
        s.Line(ops.Call(fused, "pos", "n"));
        WriteGemmOp(s, ops, layer, "_bhT.Span", ("Down", "_bx.Span"));
    }

    /// <summary>The per-position statement on this thread, then the products with the batched kernels.</summary>
    private void WriteSerialProducts(SourceWriter s, ParallelOps ops, int layer, string input, string? perPosition, params (string Tensor, string Output)[] products)
    {
        if (perPosition is not null) s.Line($"for (var j = 0; j < n; j++) {perPosition}");
        WriteProducts(s, ops, layer, input, "n", products);
    }

    /// <summary>The op preparing and transposing <paramref name="input"/>, and the op running the products as the prompt GEMM.</summary>
    private void WriteGemmProducts(SourceWriter s, ParallelOps ops, int layer, string input, string? perPosition, (string Tensor, string Output)[] products)
    {
        WriteTransposition(s, ops, layer, input, Shape(products[0].Tensor).Cols, perPosition);
        WriteGemmOp(s, ops, layer, "_bxT.Span", products);
    }

    /// <summary>
    /// The op writing <paramref name="input"/>'s rows (<paramref name="perPosition"/>) and transposing them into
    /// <c>_bxT</c>: each thread its own positions, whole groups of 16, so the four transpositions a layer and its
    /// norms no longer run on the calling thread alone.
    /// </summary>
    private static void WriteTransposition(SourceWriter s, ParallelOps ops, int layer, string input, int cols, string? perPosition)
    {
        var op = ops.Add($"{(perPosition is null ? "" : $"Layer {layer}'s norm and ")}transposition of {input.Replace(".Span", "")} ({cols} columns) for n positions", b =>
        {
            if (perPosition is not null) b.Line($"var w = Layer{layer}();");
            b.Line(ParallelOps.PositionsOf("p"));
            if (perPosition is not null) b.Line($"for (var j = p.From; j < p.To; j++) {perPosition}");
            b.Line($"{PromptGemmType}.Transpose({input}, n, {cols}, _bxT.Span, p.From, p.To); // rows as xT[k][position], padding zeroed by the part ending at n");
        });
        s.Line(ops.Call(op, "pos", "n"));
    }

    /// <summary>The op running <paramref name="products"/> of the transposed input <paramref name="transposed"/> as the prompt GEMM, rows split over the threads.</summary>
    private void WriteGemmOp(SourceWriter s, ParallelOps ops, int layer, string transposed, params (string Tensor, string Output)[] products)
    {
        var op = ops.Add($"Layer {layer}'s {string.Join(", ", products.Select(p => Camel(p.Tensor)))} prompt GEMM{(products.Length > 1 ? "s" : "")} for n positions", b =>
        {
            b.Line($"var w = Layer{layer}();");
            var ranges = new RowRanges(b);
            foreach (var (tensor, output) in products)
            {
                var m = Projection(tensor);
                var rows = ranges.Of(m.Rows);
                b.Line($"{PromptGemmType}.Multiply(w.{tensor}, {m.Stride}, {m.Cols}, {transposed}, n, {output}, {m.Rows}, {rows}, add: {(m.ResidualAdd ? "true" : "false")});");
                WriteBias(b, tensor, output, "n", rows);
            }
        });
        s.Line(ops.Call(op, "pos", "n"));
    }

    /// <summary>
    /// The bias of <paramref name="tensor"/>'s projection (Qwen2's query, key and value) added to the rows this part
    /// just computed, in every position of the batch: the reference adds it right after the product, before RoPE.
    /// </summary>
    protected void WriteBias(SourceWriter body, string tensor, string output, string? count, string rows)
    {
        if (BiasOf(tensor) is not { } bias) return;
        body.Line($"{Kernels}.{KernelEmitter.AddBiasName(Shape(bias).Cols)}({output}, w.{bias}, {count ?? "1"}, {rows});");
    }

    /// <summary>An op body's row ranges: one local per distinct row count, declared where first needed.</summary>
    protected sealed class RowRanges(SourceWriter body)
    {
        private readonly List<int> _rows = new();

        /// <summary>"rN.From, rN.To" for a matrix of <paramref name="rows"/> rows.</summary>
        public string Of(int rows)
        {
            var i = _rows.IndexOf(rows);
            if (i < 0)
            {
                i = _rows.Count;
                _rows.Add(rows);
                body.Line(ParallelOps.RowsOf($"r{i}", rows));
            }
            return $"r{i}.From, r{i}.To";
        }
    }

    /// <summary>What a products op computes, for its comment.</summary>
    protected static string ProductsSummary(int layer, string? count, (string Tensor, string Output)[] products) =>
        $"Layer {layer}'s {string.Join(", ", products.Select(p => Camel(p.Tensor)))} product{(products.Length > 1 ? "s" : "")}{(count is null ? "" : " for n positions")}";

    /// <summary>An F32 kernel call over rows <paramref name="rows"/>: MatVec for one position, MatMat for <paramref name="count"/>.</summary>
    protected static string FloatProduct(MatrixShape m, string weights, string input, string output, string? count, string rows) =>
        count is null ? $"{Kernels}.{m.MatVecName}({weights}, {input}, {output}, {rows});" : $"{Kernels}.{m.MatMatName}({weights}, {input}, {output}, {count}, {rows});";

    /// <summary>
    /// A head's product: <paramref name="matrix"/> (<c>Output</c>, <c>ExitOutput{h}</c>) times the normed state(s) into
    /// logits. One position (<c>_xb</c> into <c>_logits</c>): its rows split over the threads; a batch (Verify's): on
    /// this thread.
    /// </summary>
    public virtual void WriteHeadProduct(SourceWriter s, ParallelOps ops, string matrix, string input, string output, string? count)
    {
        if (count is not null)
        {
            s.Line(FloatProduct(Head, matrix, input, output, count, $"0, {Head.Rows}"));
            return;
        }
        var op = ops.Add($"The head's product with {matrix}", b =>
        {
            b.Line(ParallelOps.RowsOf("r", Head.Rows));
            b.Line(FloatProduct(Head, matrix, input, output, null, "r.From, r.To"));
        });
        s.Line(ops.Call(op, "0", "1"));
    }

    /// <summary>The statement putting token <paramref name="token"/>'s embedding into <paramref name="destination"/>.</summary>
    public virtual string EmbeddingRow(string token, string destination) => $"_tokenEmbedding.Row({token}).CopyTo({destination});";

    /// <summary>The ref struct(s) a step's <c>Layer{l}()</c> returns: LayerWeights, one layer's tensors as float spans.</summary>
    public virtual void WriteLayerWeightsTypes(SourceWriter s) => WriteFloatLayerWeights(s);

    /// <summary>LayerWeights: one layer's tensors as float spans, built per step on the stack.</summary>
    protected void WriteFloatLayerWeights(SourceWriter s)
    {
        s.Line("/// <summary>One layer's tensors as spans; built per step on the stack.</summary>");
        using (s.Block("private readonly ref struct LayerWeights"))
        {
            s.Line($"public readonly {FloatReadOnlySpan} {string.Join(", ", LayerTensors)};");
            s.Line();
            using (s.Block($"public LayerWeights({string.Join(", ", LayerTensors.Select(k => $"{FloatReadOnlySpan} {Camel(k)}"))})"))
                foreach (var k in LayerTensors) s.Line($"{k} = {Camel(k)};");
        }
    }

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
    public abstract void WriteAccessors(SourceWriter s, ParallelOps ops);

    /// <summary>A tensor's name as a parameter: Query → query, FeedForwardNorm → feedForwardNorm.</summary>
    public static string Camel(string tensor) => char.ToLowerInvariant(tensor[0]) + tensor.Substring(1);
}
