using System.Diagnostics;
using System.Linq;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>
/// The session's batched pass, which every engine has: prompt tokens go through the schedule in chunks of up to
/// <see cref="KernelEmitter.MaxBatch"/> positions, so each weight block is read from memory once per chunk. F32
/// projections run as the runtime's <c>PromptGemm</c> (outer-product form, one FMA chain per output): a prompt's
/// results do not depend on its chunking or the thread count and agree with one-at-a-time decoding within rounding
/// (1e-4 on the logits), not bit for bit. Lossless plans' verification (<see cref="SpeculativeSessionEmitter"/>)
/// runs the same pass with <c>_exactBatch</c> set: the MatMat kernels, every position with the single-position
/// kernels' arithmetic in their order, bit-identical to Forward(int). Quantized layouts always run their batched
/// kernels, which are exact.
/// </summary>
public sealed class BatchedPassEmitter
{
    private readonly SourceWriter _s;
    private readonly ModelManifest _m;
    private readonly ExecutionSchedule _schedule;
    private readonly ScheduleStep[] _steps;
    private readonly WeightLayout _layout;
    private readonly ParallelOps _ops;

    /// <param name="verifies">Lossless plans: the pass can also run the head for every position (Verify), and writing the cache ends a run of drafts.</param>
    public BatchedPassEmitter(SourceWriter writer, EngineSpec spec, WeightLayout layout, ParallelOps ops, bool verifies)
    {
        _ops = ops;
        _s = writer;
        _m = spec.Manifest;
        _schedule = spec.Schedule;
        _steps = spec.Schedule.Steps.ToArray();
        _layout = layout;
        Verifies = verifies;
    }

    /// <summary>True for lossless plans: ForwardBatched takes the logits of every position (Verify's).</summary>
    public bool Verifies { get; }

    private int Pairs => _m.RotaryDims / 2;

    /// <summary>The batch buffers: one row per position.</summary>
    public void WriteFields()
    {
        _s.Line($"// Batched positions (a prompt chunk, or a verification): one row per position, up to {KernelEmitter.MaxBatch}.");
        _s.Line($"private const int MaxBatch = {KernelEmitter.MaxBatch};");
        _s.Line("// Each buffer starts on a cache line, so rows of a multiple of 16 floats do too: a row's vector loads and stores never split lines.");
        _s.Line($"private readonly {AlignedBuffer} _bx = new(MaxBatch * Dim), _bxb = new(MaxBatch * Dim), _bq = new(MaxBatch * QueryDim);");
        _s.Line($"private readonly {AlignedBuffer} _bk = new(MaxBatch * KvDim), _batt = new(MaxBatch * QueryDim);");
        _s.Line($"private readonly {AlignedBuffer} _bgate = new(MaxBatch * HiddenDim), _bup = new(MaxBatch * HiddenDim);");
        if (_layout.PromptGemm)
        {
            var widest = System.Math.Max(_m.Dim, _m.QueryDim);
            _s.Line($"// The prompt GEMM's input, a chunk's rows transposed (xT[k][position], positions padded to 16): the widest input has {widest} columns;");
            _s.Line("// the down projection's, the hidden rows after SwiGLU, is written transposed by the fused gate/up op.");
            _s.Line($"private readonly {AlignedBuffer} _bxT = new(MaxBatch * {widest}), _bhT = new(MaxBatch * HiddenDim);");
            if (Verifies) _s.Line("// Set while Verify runs the batched steps: the exact kernels, bit-identical to Forward(int), instead of the prompt GEMM.");
            if (Verifies) _s.Line("private bool _exactBatch;");
        }
        _s.Line();
    }

    /// <summary>Forward(ReadOnlySpan&lt;int&gt;) (replacing the one-token-at-a-time prompt loop), CheckBatch, BatchRow, ForwardBatched and one Batch{i} per step.</summary>
    public void WriteForwardPrompt()
    {
        _s.Line("/// <summary>");
        _s.Line($"/// Prompt tokens (rule 2): each runs all {_steps.Length} steps and never exits, filling every step's cache. They go through in");
        _s.Line("/// chunks of up to MaxBatch positions, so each weight block is read from memory once per chunk.");
        _s.Line(_layout.PromptGemm
            ? "/// The projections run as the prompt GEMM: the same bits for any chunking and thread count, within rounding of feeding the tokens one by one."
            : "/// Every position's arithmetic is the single-position path's, so the result is bit-identical to feeding the tokens one by one.");
        _s.Line("/// Only the last token's logits are returned, so the head runs once, after it.");
        _s.Line("/// </summary>");
        using (_s.Block($"public {FloatReadOnlySpan} Forward({IntReadOnlySpan} tokens)"))
        {
            _s.Line("CheckBatch(tokens);");
            if (Verifies) _s.Line("_runCount = 0; // the cache is written: drafts before this cannot be reused");
            if (Verifies && _layout.PromptGemm) _s.Line("_exactBatch = false; // prompts take the GEMM; only Verify needs Forward(int)'s bits");
            _s.Line(Verifies ? "var last = ForwardBatched(tokens, default);" : "var last = ForwardBatched(tokens);");
            _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(BatchRow(_bx, last, Dim), OutputNorm, _xb);");
            _layout.WriteHeadProduct(_s, _ops, "Output", "_xb", "_logits", null);
            _s.Line("return _logits;");
        }
        _s.Line();

        WriteCheckBatch();
        _s.Line("/// <summary>Row <paramref name=\"row\"/> of a batch buffer of rows of <paramref name=\"width\"/> floats.</summary>");
        _s.Line($"private static {FloatSpan} BatchRow({AlignedBuffer} buffer, int row, int width) => buffer.Slice(row * width, width);");
        _s.Line();
        WriteForwardBatched();
        foreach (var st in _steps) WriteBatchStep(st);
    }

    private void WriteCheckBatch()
    {
        _s.Line("/// <summary>Like the reference: every token is checked, and the room for all of them, before any runs.</summary>");
        using (_s.Block($"private void CheckBatch({IntReadOnlySpan} tokens)"))
        {
            _s.Line($"if (tokens.IsEmpty) throw new {ArgumentException}(\"At least one token is needed.\");");
            _s.Line("foreach (var token in tokens)");
            using (_s.Indent()) _s.Line($"if ((uint)token >= VocabSize) throw {EngineEmitter.TokenOutOfRange};");
            _s.Line("if (tokens.Length > ContextLength - Position)");
            using (_s.Indent()) _s.Line($"throw new {InvalidOperationException}($\"The session's context of {{ContextLength}} positions is full.\");");
            _s.Line("if (tokens.Length > _capacity - Position) Grow(Position + tokens.Length);");
        }
        _s.Line();
    }

    private void WriteForwardBatched()
    {
        _s.Line("/// <summary>");
        _s.Line("/// Runs the whole schedule over <paramref name=\"tokens\"/> at Position.., chunk by chunk; returns the last position's row");
        _s.Line(Verifies
            ? "/// in the batch buffers. With <paramref name=\"allLogits\"/> non-empty (verification) the head runs for every position into it."
            : "/// in the batch buffers.");
        _s.Line("/// </summary>");
        using (_s.Block(Verifies
                   ? $"private int ForwardBatched({IntReadOnlySpan} tokens, {FloatSpan} allLogits)"
                   : $"private int ForwardBatched({IntReadOnlySpan} tokens)"))
        {
            _s.Line("var last = 0;");
            using (_s.Block("for (var start = 0; start < tokens.Length; start += MaxBatch)"))
            {
                _s.Line($"var n = {Math}.Min(MaxBatch, tokens.Length - start);");
                _s.Line("var pos = Position;");
                _s.Line($"for (var j = 0; j < n; j++) {_layout.EmbeddingRow("tokens[start + j]", "BatchRow(_bx, j, Dim)")}");
                WriteSteps(0, _steps.Length);
                if (Verifies)
                {
                    _s.Line("if (!allLogits.IsEmpty) BatchHeads(n, allLogits.Slice(start * VocabSize, n * VocabSize));");
                    _s.Line("else for (var j = 0; j < n; j++) Statistics.RecordPrompt();");
                }
                else _s.Line("for (var j = 0; j < n; j++) Statistics.RecordPrompt();");
                _s.Line("Position = pos + n;");
                _s.Line("last = n - 1;");
            }
            _s.Line("return last;");
        }
        _s.Line();
    }

    /// <summary>Calls of steps <paramref name="from"/>..<paramref name="to"/>−1 for rows 0..n−1 at positions pos.., each followed by the observer.</summary>
    public void WriteSteps(int from, int to)
    {
        Debug.Assert(0 <= from && from <= to && to <= _steps.Length, "a range of the schedule's steps");
        foreach (var st in _steps.Skip(from).Take(to - from))
        {
            // KV strategy recompute: parked positions run their missing steps up to this one before the chunk attends over them.
            if (_schedule.KvFill == KvFill.Recompute && st.Index > 0) _s.Line($"{RecomputeEmitter.CatchUpCall(st.Index)} // prompt tokens complete every parked position");
            _s.Line($"Batch{st.Index}(pos, n);");
            _s.Line($"if (Observer is {{ }} o{st.Index}) for (var j = 0; j < n; j++) o{st.Index}.OnLayerOutput(pos + j, {st.Index}, {st.Layer}, BatchRow(_bx, j, Dim));");
        }
    }

    /// <summary>Batch{i}(pos, n): Step{i}'s kernels per position, the projections batched (the prompt GEMM, or Verify's exact kernels); a dropped half is dropped here too.</summary>
    private void WriteBatchStep(ScheduleStep st)
    {
        var slot = st.Index;
        var norm = $"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}";
        var layer = st.WeightsOf;
        _s.Line($"// Step {slot} (layer {st.Layer}{(st.WeightsOf != st.Layer ? $", layer {st.WeightsOf}'s weights" : "")}) for positions pos..pos+n-1: Step{slot}'s kernels per position,");
        _s.Line(st.RunsAttention
            ? "// the projections batched. Every position's K/V is stored before any attends, each over 0..its own position."
            : "// the projections batched.");
        using (_s.Block($"private void Batch{slot}(int pos, int n)"))
        {
            _s.Line($"var w = Layer{st.WeightsOf}();");
            if (st.RunsAttention)
            {
                _layout.WritePromptProducts(_s, _ops, layer, "_bxb.Span", $"{norm}(BatchRow(_bx, j, Dim), w.AttentionNorm, BatchRow(_bxb, j, Dim));", Verifies, ("Query", "_bq.Span"), ("Key", "_bk.Span"), ("Value", $"new {FloatSpan}(_values{slot}, pos * KvDim, n * KvDim)"));
                using (_s.Block("for (var j = 0; j < n; j++)"))
                {
                    if (Pairs > 0)
                    {
                        _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.Heads, _m.HeadDim)}(BatchRow(_bq, j, QueryDim), _rope.Cos(pos + j), _rope.Sin(pos + j));");
                        _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.KvHeads, _m.HeadDim)}(BatchRow(_bk, j, KvDim), _rope.Cos(pos + j), _rope.Sin(pos + j));");
                    }
                    _s.Line($"{Kernels}.{KernelEmitter.StoreKeyName(_m.KvDim)}(BatchRow(_bk, j, KvDim), _keys{slot}, pos + j, _capacity);");
                }
                EngineEmitter.WriteAttention(_s, _ops, slot, batched: true);
                _layout.WritePromptProducts(_s, _ops, layer, "_batt.Span", null, Verifies, ("Output", "_bx.Span"));
            }
            else _s.Line(EngineEmitter.NoAttention);
            if (st.RunsFeedForward)
            {
                _layout.WritePromptFeedForward(_s, _ops, layer, $"{norm}(BatchRow(_bx, j, Dim), w.FeedForwardNorm, BatchRow(_bxb, j, Dim));",
                    $"{Kernels}.{KernelEmitter.SwiGluName(_m.HiddenDim)}(BatchRow(_bgate, j, HiddenDim), BatchRow(_bup, j, HiddenDim));", Verifies);
            }
            else _s.Line(EngineEmitter.NoFeedForward);
        }
        _s.Line();
    }
}
