using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// The session's multi-position code, beside what <see cref="EngineEmitter"/> writes for one position: batched prompt
/// evaluation (chunks of up to <see cref="KernelEmitter.MaxBatch"/> positions through the MatMat kernels) and, for
/// <c>"kvFill": "lossless"</c> plans, the <c>ISpeculativeSession</c> members (Draft, Verify, full-depth Forward(int)).
/// Every position of a chunk runs the single-position kernels' arithmetic in their order, so a batched pass is
/// bit-identical to running its positions one at a time; that is what makes verification lossless.
/// </summary>
public sealed class SpeculationEmitter
{
    private const string Engine = "global::SpecializedInfer.Engine";
    private const string Planning = "global::SpecializedInfer.Planning";
    private const string Span = "global::System.ReadOnlySpan<float>";
    private const string Kernels = "SiKernels";

    private readonly SourceWriter _s;
    private readonly ModelManifest _m;
    private readonly ExecutionSchedule _schedule;
    private readonly ScheduleStep[] _steps;
    private readonly System.Func<int, int> _stride;

    /// <param name="stride">Floats per matrix row in the engine's memory for a column count (the padded arena or the file's rows).</param>
    public SpeculationEmitter(SourceWriter writer, EngineSpec spec, System.Func<int, int> stride)
    {
        _s = writer;
        _m = spec.Manifest;
        _schedule = spec.Schedule;
        _steps = spec.Schedule.Steps.ToArray();
        _stride = stride;
    }

    /// <summary>True for lossless plans: the session implements <c>ISpeculativeSession</c>.</summary>
    public bool Speculative => _schedule.KvFill == KvFill.Lossless && _schedule.Speculation is not null;

    private Speculation Spec => _schedule.Speculation!;

    /// <summary>The interface list's addition to the session's declaration.</summary>
    public string SessionInterfaces => Speculative ? $", {Engine}.ISpeculativeSession" : "";

    private string MatMat(int rows, int cols, bool add) => KernelEmitter.MatMatName(rows, cols, add, _stride(cols));

    private string MatVec(int rows, int cols, bool add) => KernelEmitter.MatVecName(rows, cols, add, _stride(cols));

    private int Pairs => _m.RotaryDims / 2;

    private static string I(long v) => Literals.Int(v);

    // -------------------------------------------------------------------------------------------------------------
    // Kernels

    /// <summary>The batched twins of the projections (and of the head, which verification runs for every position).</summary>
    public void WriteKernels(KernelEmitter k)
    {
        var shapes = new List<(int Rows, int Cols, bool Add)>
        {
            (_m.QueryDim, _m.Dim, false), (_m.KvDim, _m.Dim, false), (_m.Dim, _m.QueryDim, true),
            (_m.HiddenDim, _m.Dim, false), (_m.Dim, _m.HiddenDim, true),
        };
        if (Speculative) shapes.Add((_m.VocabSize, _m.Dim, false));
        foreach (var (rows, cols, add) in shapes.Distinct()) k.EmitMatMat(rows, cols, add, _stride(cols));
    }

    // -------------------------------------------------------------------------------------------------------------
    // Session members

    public void WriteFields()
    {
        _s.Line($"// Batched positions (a prompt chunk, or a verification): one row per position, up to {KernelEmitter.MaxBatch}.");
        _s.Line($"private const int MaxBatch = {KernelEmitter.MaxBatch};");
        _s.Line("private readonly float[] _bx = new float[MaxBatch * Dim], _bxb = new float[MaxBatch * Dim], _bq = new float[MaxBatch * QueryDim];");
        _s.Line("private readonly float[] _bk = new float[MaxBatch * KvDim], _batt = new float[MaxBatch * QueryDim];");
        _s.Line("private readonly float[] _bgate = new float[MaxBatch * HiddenDim], _bup = new float[MaxBatch * HiddenDim];");
        _s.Line();
        if (!Speculative) return;
        _s.Line("// Draft reuse: the run of drafts at _runStart.. since the cache was last written, their tokens and hidden states");
        _s.Line($"// after step {Spec.DraftSteps - 1}. Their K/V in steps 0..{Spec.DraftSteps - 1} are what a full-depth pass would store, so Verify starts them there.");
        _s.Line("private readonly int[] _runTokens = new int[MaxBatch];");
        _s.Line("private readonly float[] _runHidden = new float[MaxBatch * Dim];");
        _s.Line("private int _runStart, _runCount;");
        _s.Line();
    }

    /// <summary>Forward(ReadOnlySpan&lt;int&gt;), replacing the one-token-at-a-time prompt loop.</summary>
    public void WriteForwardPrompt()
    {
        _s.Line("/// <summary>");
        _s.Line($"/// Prompt tokens (rule 2): each runs all {_steps.Length} steps and never exits, filling every step's cache. They go through in");
        _s.Line("/// chunks of up to MaxBatch positions, so each weight block is read from memory once per chunk; every position's");
        _s.Line("/// arithmetic is the single-position path's, so the result is bit-identical to feeding the tokens one by one.");
        _s.Line("/// Only the last token's logits are returned, so the head runs once, after it.");
        _s.Line("/// </summary>");
        _s.Open($"public {Span} Forward(global::System.ReadOnlySpan<int> tokens)");
        _s.Line("CheckBatch(tokens);");
        if (Speculative) _s.Line("_runCount = 0; // the cache is written: drafts before this cannot be reused");
        _s.Line(Speculative ? "var last = ForwardBatched(tokens, default);" : "var last = ForwardBatched(tokens);");
        _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(BatchRow(_bx, last, Dim), OutputNorm, _xb);");
        _s.Line($"{Kernels}.{MatVec(_m.VocabSize, _m.Dim, false)}(Output, _xb, _logits);");
        _s.Line("return _logits;");
        _s.Close();
        _s.Line();

        _s.Line("/// <summary>Like the reference: every token is checked, and the room for all of them, before any runs.</summary>");
        _s.Open("private void CheckBatch(global::System.ReadOnlySpan<int> tokens)");
        _s.Line("if (tokens.IsEmpty) throw new global::System.ArgumentException(\"At least one token is needed.\", nameof(tokens));");
        _s.Line("foreach (var token in tokens)");
        _s.Line("    if ((uint)token >= VocabSize) throw new global::System.ArgumentOutOfRangeException(nameof(tokens), token, TokenRange);");
        _s.Line("if (tokens.Length > ContextLength - Position)");
        _s.Line("    throw new global::System.InvalidOperationException($\"The session's context of {ContextLength} positions is full.\");");
        _s.Close();
        _s.Line();

        _s.Line("/// <summary>Row <paramref name=\"row\"/> of a batch buffer of rows of <paramref name=\"width\"/> floats.</summary>");
        _s.Line("private static global::System.Span<float> BatchRow(float[] buffer, int row, int width) => new(buffer, row * width, width);");
        _s.Line();

        _s.Line("/// <summary>");
        _s.Line("/// Runs the whole schedule over <paramref name=\"tokens\"/> at Position.., chunk by chunk; returns the last position's row");
        _s.Line(Speculative
            ? "/// in the batch buffers. With <paramref name=\"allLogits\"/> non-empty (verification) the head runs for every position into it."
            : "/// in the batch buffers.");
        _s.Line("/// </summary>");
        _s.Open(Speculative
            ? "private int ForwardBatched(global::System.ReadOnlySpan<int> tokens, global::System.Span<float> allLogits)"
            : "private int ForwardBatched(global::System.ReadOnlySpan<int> tokens)");
        _s.Line("var last = 0;");
        _s.Open("for (var start = 0; start < tokens.Length; start += MaxBatch)");
        _s.Line("var n = global::System.Math.Min(MaxBatch, tokens.Length - start);");
        _s.Line("var pos = Position;");
        _s.Line("for (var j = 0; j < n; j++) _tokenEmbedding.Row(tokens[start + j]).CopyTo(BatchRow(_bx, j, Dim));");
        BatchSteps(0, _steps.Length);
        if (Speculative)
        {
            _s.Line("if (!allLogits.IsEmpty) BatchHeads(n, allLogits.Slice(start * VocabSize, n * VocabSize));");
            _s.Line("else for (var j = 0; j < n; j++) Statistics.RecordPrompt();");
        }
        else _s.Line("for (var j = 0; j < n; j++) Statistics.RecordPrompt();");
        _s.Line("Position = pos + n;");
        _s.Line("last = n - 1;");
        _s.Close();
        _s.Line("return last;");
        _s.Close();
        _s.Line();

        foreach (var st in _steps) WriteBatchStep(st);
    }

    /// <summary>Steps <paramref name="from"/>..<paramref name="to"/>−1 for rows 0..n−1 at positions pos.., each followed by the observer.</summary>
    private void BatchSteps(int from, int to)
    {
        foreach (var st in _steps.Skip(from).Take(to - from))
        {
            // KV strategy recompute: parked positions run their missing steps up to this one before the chunk attends over them.
            if (_schedule.KvFill == KvFill.Recompute && st.Index > 0) _s.Line($"{RecomputeEmitter.CatchUpCall(st.Index)} // prompt tokens complete every parked position");
            _s.Line($"Batch{st.Index}(pos, n);");
            _s.Line($"if (Observer is {{ }} o{st.Index}) for (var j = 0; j < n; j++) o{st.Index}.OnLayerOutput(pos + j, {st.Index}, {st.Layer}, BatchRow(_bx, j, Dim));");
        }
    }

    private void WriteBatchStep(ScheduleStep st)
    {
        var slot = st.Index;
        var norm = KernelEmitter.RmsNormName(_m.Dim);
        _s.Line($"// Step {slot} (layer {st.Layer}{(st.WeightsOf != st.Layer ? $", layer {st.WeightsOf}'s weights" : "")}) for positions pos..pos+n-1: Step{slot}'s kernels per position,");
        _s.Line("// the projections batched. Every position's K/V is stored before any attends, each over 0..its own position.");
        _s.Open($"private void Batch{slot}(int pos, int n)");
        _s.Line($"var w = Layer{st.WeightsOf}();");
        _s.Line($"for (var j = 0; j < n; j++) {Kernels}.{norm}(BatchRow(_bx, j, Dim), w.AttentionNorm, BatchRow(_bxb, j, Dim));");
        _s.Line($"{Kernels}.{MatMat(_m.QueryDim, _m.Dim, false)}(w.Query, _bxb, _bq, n);");
        _s.Line($"{Kernels}.{MatMat(_m.KvDim, _m.Dim, false)}(w.Key, _bxb, _bk, n);");
        _s.Line($"{Kernels}.{MatMat(_m.KvDim, _m.Dim, false)}(w.Value, _bxb, new global::System.Span<float>(_values{slot}, pos * KvDim, n * KvDim), n);");
        _s.Open("for (var j = 0; j < n; j++)");
        if (Pairs > 0)
        {
            _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.Heads, _m.HeadDim)}(BatchRow(_bq, j, QueryDim), _rope.Cos(pos + j), _rope.Sin(pos + j));");
            _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.KvHeads, _m.HeadDim)}(BatchRow(_bk, j, KvDim), _rope.Cos(pos + j), _rope.Sin(pos + j));");
        }
        _s.Line($"{Kernels}.{KernelEmitter.StoreKeyName(_m.KvDim)}(BatchRow(_bk, j, KvDim), _keys{slot}, pos + j, _capacity);");
        _s.Close();
        _s.Line($"for (var j = 0; j < n; j++) {Kernels}.{KernelEmitter.AttentionName}(BatchRow(_bq, j, QueryDim), _keys{slot}, _values{slot}, _scores, BatchRow(_batt, j, QueryDim), pos + j, _capacity);");
        _s.Line($"{Kernels}.{MatMat(_m.Dim, _m.QueryDim, true)}(w.Output, _batt, _bx, n);");
        _s.Line($"for (var j = 0; j < n; j++) {Kernels}.{norm}(BatchRow(_bx, j, Dim), w.FeedForwardNorm, BatchRow(_bxb, j, Dim));");
        _s.Line($"{Kernels}.{MatMat(_m.HiddenDim, _m.Dim, false)}(w.Gate, _bxb, _bgate, n);");
        _s.Line($"{Kernels}.{MatMat(_m.HiddenDim, _m.Dim, false)}(w.Up, _bxb, _bup, n);");
        _s.Line($"for (var j = 0; j < n; j++) {Kernels}.{KernelEmitter.SwiGluName(_m.HiddenDim)}(BatchRow(_bgate, j, HiddenDim), BatchRow(_bup, j, HiddenDim));");
        _s.Line($"{Kernels}.{MatMat(_m.Dim, _m.HiddenDim, true)}(w.Down, _bgate, _bx, n);");
        _s.Close();
        _s.Line();
    }

    // -------------------------------------------------------------------------------------------------------------
    // Lossless self-speculation

    /// <summary>Forward(int) of a lossless plan: the whole schedule, no exit (the plan's exit point only gates drafting).</summary>
    public void WriteForwardFull()
    {
        _s.Line("/// <summary>");
        _s.Line($"/// A generated token (plan: kvFill lossless): runs all {_steps.Length} steps, so its logits are the full model's. Drafting");
        _s.Line("/// is Draft's job; no step is ever left without its K/V.");
        _s.Line("/// </summary>");
        _s.Open($"public {Span} Forward(int token)");
        _s.Line("var pos = Enter(token);");
        _s.Line("_runCount = 0; // the cache is written: drafts before this cannot be reused");
        foreach (var st in _steps)
        {
            _s.Line($"Step{st.Index}(pos);");
            _s.Line($"Observer?.OnLayerOutput(pos, {st.Index}, {st.Layer}, _x);");
        }
        _s.Line("Head();");
        _s.Line($"return Finish(pos, stepsRun: {_steps.Length}, exitStep: -1);");
        _s.Close();
        _s.Line();
    }

    public void WriteSpeculativeMembers()
    {
        var sp = Spec;
        var e = sp.DraftSteps;
        var exit = _steps[e - 1].ExitAfter;
        _s.Line("/// <inheritdoc/>");
        _s.Line($"public {Planning}.Speculation Speculation {{ get; }} = new {Planning}.Speculation({sp.DraftSteps}, {sp.DraftTokens});");
        _s.Line();

        _s.Line("/// <summary>");
        _s.Line($"/// Drafts with steps 0..{e - 1} and the shared head (final RMSNorm with output_norm, then the output matrix). Steps");
        _s.Line($"/// {e}..{_steps.Length - 1} keep stale K/V at this position until Verify rewrites them. "
                + (exit is null ? "The plan has no exit point after the draft's last step, so every draft is confident."
                                : $"Confidence is the plan's exit test after step {e - 1} ({Literals.Comment(exit.Test.Describe())}), measured by ExitMeasures as the reference does."));
        _s.Line("/// Statistics are left to the decoder (RecordVerification), which alone knows how many drafts were accepted.");
        _s.Line("/// </summary>");
        _s.Open($"public {Span} Draft(int token, out bool confident)");
        _s.Line("var pos = Enter(token);");
        for (var i = 0; i < e; i++)
        {
            _s.Line($"Step{i}(pos);");
            _s.Line($"Observer?.OnLayerOutput(pos, {i}, {_steps[i].Layer}, _x);");
        }
        _s.Line("if (pos != _runStart + _runCount || _runCount == MaxBatch) { _runStart = pos; _runCount = 0; }");
        _s.Line("_runTokens[_runCount] = token;");
        _s.Line("new global::System.ReadOnlySpan<float>(_x).CopyTo(BatchRow(_runHidden, _runCount++, Dim)); // no extension methods: generated code relies on no usings");
        _s.Line("Head();");
        if (exit is null) _s.Line("confident = true;");
        else if (Confidence() is { } test) _s.Line($"confident = {test};");
        else throw new System.InvalidOperationException($"PlanReader admits no draft exit test '{exit.Test.Describe()}' (SI0036).");
        _s.Line("Position = pos + 1;");
        _s.Line("return _logits;");
        _s.Close();
        _s.Line();

        _s.Line("/// <summary>");
        _s.Line("/// Rewinds to <paramref name=\"start\"/>, then runs the whole schedule over <paramref name=\"tokens\"/> in batched chunks, the head");
        _s.Line("/// for every position into <paramref name=\"allLogits\"/>: bit-identical to Forward(int) token by token.");
        _s.Line("/// </summary>");
        _s.Open($"public void Verify(int start, global::System.ReadOnlySpan<int> tokens, global::System.Span<float> allLogits)");
        _s.Line("if (allLogits.Length != tokens.Length * VocabSize)");
        _s.Line("    throw new global::System.ArgumentException($\"Need room for {tokens.Length} × {VocabSize} logits.\", nameof(allLogits));");
        _s.Line("Rewind(start);");
        _s.Line("CheckBatch(tokens);");
        _s.Line("var reused = 0;");
        _s.Line("if (start == _runStart && tokens.Length <= MaxBatch)");
        _s.Line("    while (reused < _runCount && reused < tokens.Length && tokens[reused] == _runTokens[reused]) reused++;");
        _s.Line("_runCount = 0; // these positions are rewritten now");
        _s.Line("if (reused == 0) ForwardBatched(tokens, allLogits);");
        _s.Open("else");
        _s.Line($"// The new positions run steps 0..{e - 1} in rows 0.., move behind the drafts' rows, and all run the remaining steps.");
        _s.Line("var fresh = tokens.Length - reused;");
        _s.Line("var pos = start + reused;");
        _s.Line("var n = fresh;");
        _s.Line("for (var j = 0; j < fresh; j++) _tokenEmbedding.Row(tokens[reused + j]).CopyTo(BatchRow(_bx, j, Dim));");
        _s.Open("if (fresh > 0)");
        BatchSteps(0, e);
        _s.Close();
        _s.Line("global::System.Array.Copy(_bx, 0, _bx, reused * Dim, fresh * Dim);");
        _s.Line("global::System.Array.Copy(_runHidden, 0, _bx, 0, reused * Dim);");
        _s.Line("pos = start;");
        _s.Line("n = tokens.Length;");
        BatchSteps(e, _steps.Length);
        _s.Line("BatchHeads(n, allLogits);");
        _s.Line("Position = start + n;");
        _s.Close();
        _s.Line("allLogits.Slice((tokens.Length - 1) * VocabSize, VocabSize).CopyTo(_logits);");
        _s.Close();
        _s.Line();

        _s.Line("/// <summary>The head for rows 0..n−1 of the batch into consecutive logit rows.</summary>");
        _s.Open("private void BatchHeads(int n, global::System.Span<float> logits)");
        _s.Line($"for (var j = 0; j < n; j++) {Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(BatchRow(_bx, j, Dim), OutputNorm, BatchRow(_bxb, j, Dim));");
        _s.Line($"{Kernels}.{MatMat(_m.VocabSize, _m.Dim, false)}(Output, _bxb, logits, n);");
        _s.Close();
        _s.Line();
    }

    /// <summary>
    /// The draft's confidence as a C# expression: the decision model's draft condition, printed. Drafting here keeps no
    /// hidden state and uses the shared head, so a condition that reads more than the logits, or an exit head, gives
    /// null, and the build stops with a message naming the test instead of drafting on a guess (PlanReader's SI0036
    /// admits neither).
    /// </summary>
    private string? Confidence() =>
        DecodeDecisions.For(_schedule).Draft is { Head: null, Confident: { ReadsOnlyLogits: true } confident } ? ConditionPrinter.Expression(confident) : null;
}
