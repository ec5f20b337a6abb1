using System.Diagnostics;
using System.Linq;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>
/// The <c>ISpeculativeSession</c> members of a <c>"kvFill": "lossless"</c> plan's session: Forward(int) at full
/// depth, Draft (the first steps and the draft exit's head: its own when the plan names one, else the model's), and Verify, which reruns drafted positions through the
/// batched pass (<see cref="BatchedPassEmitter"/>), bit-identical to Forward(int) token by token, so accepting a
/// draft loses nothing. Drafts' hidden states are kept so Verify can start them past the steps they already ran.
/// </summary>
public sealed class SpeculativeSessionEmitter
{
    /// <summary>The interface the session implements besides IInferenceSession.</summary>
    public const string Interface = Engine + ".ISpeculativeSession";

    private readonly SourceWriter _s;
    private readonly ModelManifest _m;
    private readonly Speculation _speculation;
    private readonly ScheduleStep[] _steps;
    private readonly WeightLayout _layout;
    private readonly ParallelOps _ops;
    private readonly BatchedPassEmitter _batched;

    /// <summary>How a token is drafted: the decision model's (its exit point after the last draft step, and the confidence test).</summary>
    private readonly DraftDecision _draft;

    public SpeculativeSessionEmitter(SourceWriter writer, EngineSpec spec, WeightLayout layout, ParallelOps ops, BatchedPassEmitter batched, DraftDecision draft)
    {
        _ops = ops;
        Debug.Assert(AppliesTo(spec.Schedule), "only lossless plans' sessions are speculative");
        _s = writer;
        _m = spec.Manifest;
        _speculation = spec.Schedule.Speculation!;
        _steps = spec.Schedule.Steps.ToArray();
        _layout = layout;
        _batched = batched;
        _draft = draft;
    }

    /// <summary>Lossless plans: the session implements <c>ISpeculativeSession</c>.</summary>
    public static bool AppliesTo(ExecutionSchedule schedule) => schedule.KvFill == KvFill.Lossless && schedule.Speculation is not null;

    /// <summary>The run of drafts Verify may reuse.</summary>
    public void WriteFields()
    {
        _s.Line("// Draft reuse: the run of drafts at _runStart.. since the cache was last written, their tokens and hidden states");
        _s.Line($"// after step {_speculation.DraftSteps - 1}. Their K/V in steps 0..{_speculation.DraftSteps - 1} are what a full-depth pass would store, so Verify starts them there.");
        _s.Line("private readonly int[] _runTokens = new int[MaxBatch];");
        _s.Line($"private readonly {AlignedBuffer} _runHidden = new(MaxBatch * Dim);");
        _s.Line("private int _runStart, _runCount;");
        _s.Line();
    }

    /// <summary>Forward(int) of a lossless plan: the whole schedule, no exit (the plan's exit point only gates drafting).</summary>
    public void WriteForwardFull()
    {
        _s.Line("/// <summary>");
        _s.Line($"/// A generated token (plan: kvFill lossless): runs all {_steps.Length} steps, so its logits are the full model's. Drafting");
        _s.Line("/// is Draft's job; no step is ever left without its K/V.");
        _s.Line("/// </summary>");
        using (_s.Block($"public {FloatReadOnlySpan} Forward(int token)"))
        {
            _s.Line("var pos = Enter(token);");
            _s.Line("_runCount = 0; // the cache is written: drafts before this cannot be reused");
            foreach (var st in _steps)
            {
                _s.Line($"Step{st.Index}(pos);");
                _s.Line($"Observer?.OnLayerOutput(pos, {st.Index}, {st.Layer}, _x);");
            }
            _s.Line("Head();");
            _s.Line($"return Finish(pos, stepsRun: {_steps.Length}, exitStep: -1);");
        }
        _s.Line();
    }

    /// <summary>Speculation, Draft, Verify and BatchHeads.</summary>
    public void WriteMembers()
    {
        _s.Line("/// <inheritdoc/>");
        _s.Line($"public {Planning}.Speculation Speculation {{ get; }} = new {Planning}.Speculation({_speculation.DraftSteps}, {_speculation.DraftTokens});");
        _s.Line();
        WriteDraft();
        WriteVerify();
        _s.Line("/// <summary>The head for rows 0..n−1 of the batch into consecutive logit rows.</summary>");
        using (_s.Block($"private void BatchHeads(int n, {FloatSpan} logits)"))
        {
            _s.Line($"for (var j = 0; j < n; j++) {Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(BatchRow(_bx, j, Dim), OutputNorm, BatchRow(_bxb, j, Dim));");
            _layout.WriteHeadProduct(_s, _ops, "Output", "_bxb.Span", "logits", "n");
        }
        _s.Line();
    }

    private void WriteDraft()
    {
        var e = _speculation.DraftSteps;
        Debug.Assert(0 < e && e < _steps.Length, "drafts run some of the steps, not all (PlanReader checks draftSteps)");
        var exit = _draft.Exit;
        _s.Line("/// <summary>");
        _s.Line(_draft.Head is { } h
            ? $"/// Drafts with steps 0..{e - 1} and the draft exit's own head (RMSNorm with {Literals.Xml(h.Norm)}, then {Literals.Xml(h.Output)}). Steps"
            : $"/// Drafts with steps 0..{e - 1} and the shared head (final RMSNorm with output_norm, then the output matrix). Steps");
        _s.Line($"/// {e}..{_steps.Length - 1} keep stale K/V at this position until Verify rewrites them. "
                + (exit is null ? "The plan has no exit point after the draft's last step, so every draft is confident."
                                : $"Confidence is the plan's exit test after step {e - 1} ({Literals.Comment(exit.Test.Describe())}), measured by ExitMeasures as the reference does."));
        _s.Line("/// Statistics are left to the decoder (RecordVerification), which alone knows how many drafts were accepted.");
        _s.Line("/// </summary>");
        using (_s.Block($"public {FloatReadOnlySpan} Draft(int token, out bool confident)"))
        {
            _s.Line("var pos = Enter(token);");
            for (var i = 0; i < e; i++)
            {
                _s.Line($"Step{i}(pos);");
                _s.Line($"Observer?.OnLayerOutput(pos, {i}, {_steps[i].Layer}, _x);");
            }
            _s.Line("if (pos != _runStart + _runCount || _runCount == MaxBatch) { _runStart = pos; _runCount = 0; }");
            _s.Line("_runTokens[_runCount] = token;");
            _s.Line($"new {FloatReadOnlySpan}(_x).CopyTo(BatchRow(_runHidden, _runCount++, Dim)); // no extension methods: generated code relies on no usings");
            _s.Line(_draft.Head is { } head ? $"ExitHead{_layout.Heads.ToList().IndexOf(head)}();" : "Head();");
            if (exit is null) _s.Line("confident = true;");
            else if (Confidence() is { } test) _s.Line($"confident = {test};");
            else throw new System.InvalidOperationException($"PlanReader admits no draft exit test '{exit.Test.Describe()}' (SI0036).");
            _s.Line("Position = pos + 1;");
            _s.Line("return _logits;");
        }
        _s.Line();
    }

    private void WriteVerify()
    {
        var e = _speculation.DraftSteps;
        _s.Line("/// <summary>");
        _s.Line("/// Rewinds to <paramref name=\"start\"/>, then runs the whole schedule over <paramref name=\"tokens\"/> in batched chunks, the head");
        _s.Line("/// for every position into <paramref name=\"allLogits\"/>: bit-identical to Forward(int) token by token.");
        _s.Line("/// </summary>");
        using (_s.Block($"public void Verify(int start, {IntReadOnlySpan} tokens, {FloatSpan} allLogits)"))
        {
            _s.Line("if (allLogits.Length != tokens.Length * VocabSize)");
            using (_s.Indent()) _s.Line($"throw new {ArgumentException}($\"Need room for {{tokens.Length}} × {{VocabSize}} logits.\");");
            _s.Line("Rewind(start);");
            _s.Line("CheckBatch(tokens);");
            if (_layout.PromptGemm) _s.Line("_exactBatch = true; // the batched steps run the exact kernels, not the prompt GEMM");
            _s.Line("var reused = 0;");
            _s.Line("if (start == _runStart && tokens.Length <= MaxBatch)");
            using (_s.Indent()) _s.Line("while (reused < _runCount && reused < tokens.Length && tokens[reused] == _runTokens[reused]) reused++;");
            _s.Line("_runCount = 0; // these positions are rewritten now");
            _s.Line("if (reused == 0) ForwardBatched(tokens, allLogits);");
            using (_s.Block("else"))
            {
                _s.Line($"// The new positions run steps 0..{e - 1} in rows 0.., move behind the drafts' rows, and all run the remaining steps.");
                _s.Line("var fresh = tokens.Length - reused;");
                _s.Line("var pos = start + reused;");
                _s.Line("var n = fresh;");
                _s.Line("for (var j = 0; j < fresh; j++) _tokenEmbedding.Row(tokens[reused + j]).CopyTo(BatchRow(_bx, j, Dim));");
                using (_s.Block("if (fresh > 0)"))
                    _batched.WriteSteps(0, e);
                _s.Line("_bx.Slice(0, fresh * Dim).CopyTo(_bx.Slice(reused * Dim, fresh * Dim)); // overlapping rows copy as a memmove");
                _s.Line("_runHidden.Slice(0, reused * Dim).CopyTo(_bx.Span);");
                _s.Line("pos = start;");
                _s.Line("n = tokens.Length;");
                _batched.WriteSteps(e, _steps.Length);
                _s.Line("BatchHeads(n, allLogits);");
                _s.Line("Position = start + n;");
            }
            _s.Line("allLogits.Slice((tokens.Length - 1) * VocabSize, VocabSize).CopyTo(_logits);");
        }
        _s.Line();
    }

    /// <summary>
    /// The draft's confidence as a C# expression: the decision model's draft condition, printed, on the draft head's
    /// logits. Drafting here keeps no earlier hidden state, so a condition that reads more than the logits gives null,
    /// and the build stops with a message naming the test instead of drafting on a guess (PlanReader's SI0036 admits none).
    /// </summary>
    private string? Confidence() =>
        _draft is { Confident: { ReadsOnlyLogits: true } confident } ? ConditionPrinter.Expression(confident) : null;
}
