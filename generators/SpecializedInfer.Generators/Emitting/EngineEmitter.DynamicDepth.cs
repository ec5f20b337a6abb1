using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

// Forward(int) of a plan with dynamic depth: exits after steps, dynamically skipped steps, and the decisions behind
// them. Moved verbatim from EngineEmitter.cs (they are being rewritten elsewhere and will replace this file whole),
// which is why they still open blocks by hand and use the short names Span, Engine and Kernels.

public sealed partial class EngineEmitter
{
    /// <summary>The exit points generated tokens check: those before the decode depth (lossless plans keep theirs for drafting only).</summary>
    private List<ScheduleStep> ExitSteps =>
        _schedule.KvFill == KvFill.Lossless ? new List<ScheduleStep>() : _steps.Take(_depth).Where(s => s.ExitAfter is not null).ToList();

    private bool CosineSkips => _steps.Take(_depth).Any(s => s.Skip?.Test == SkipTest.Cosine);

    private bool SaturationExits => ExitSteps.Any(s => s.ExitAfter!.Test.NeedsPreviousState);

    /// <summary>Exit points before <paramref name="step"/> that compute a head whatever happens: patience's history.</summary>
    private List<int> HeadHistory(int step) => ExitSteps.Where(s => s.Index < step && s.ExitAfter!.NeedsHead).Select(s => s.Index).ToList();

    private static int MaxPatience(ExitTest t) => t.Criterion switch
    {
        ExitCriterion.Patience => t.Patience,
        ExitCriterion.Ensemble => t.Members.Select(MaxPatience).DefaultIfEmpty(0).Max(),
        _ => 0,
    };

    /// <summary>Exit points whose argmax some patience test (its own or a later one) compares.</summary>
    private HashSet<int> ArgMaxNeeded()
    {
        var needed = new HashSet<int>();
        foreach (var st in ExitSteps)
        {
            var k = MaxPatience(st.ExitAfter!.Test);
            if (k < 2) continue;
            var history = HeadHistory(st.Index);
            if (history.Count < k - 1) continue; // cannot pass: nothing to compare
            needed.Add(st.Index);
            foreach (var h in history.Skip(history.Count - (k - 1))) needed.Add(h);
        }
        return needed;
    }

    private string ProbeName(string file) => $"Probe{_probes.FindIndex(p => p.File == file)}";

    /// <summary>
    /// The C# condition of an exit test at the exit point after step <paramref name="step"/>: every number from
    /// ExitMeasures (the reference's calls), folded to "true"/"false" where the schedule alone decides (patience without
    /// enough history, ensembles whose votes are settled).
    /// </summary>
    private string Condition(ExitTest t, int step)
    {
        var measures = $"{Engine}.ExitMeasures";
        switch (t.Criterion)
        {
            case ExitCriterion.MaxProbability: return $"{measures}.MaxProbability(_logits, _probe) >= {Literals.Double(t.Threshold)}";
            case ExitCriterion.Margin: return $"{measures}.Margin(_logits, _probe) >= {Literals.Double(t.Threshold)}";
            case ExitCriterion.Entropy: return $"{measures}.Entropy(_logits, _probe) <= {Literals.Double(t.Threshold)}";
            case ExitCriterion.StateSaturation: return $"{measures}.Cosine(_x, _exitState) >= {Literals.Double(t.Threshold)}";
            case ExitCriterion.Learned:
                var probe = ProbeName(t.Probe!);
                return $"{measures}.Probe(_x, {probe}, {probe}Bias, NormEps) >= {Literals.Double(t.Threshold)}";
            case ExitCriterion.Patience:
                if (t.Patience <= 1) return "true";
                var history = HeadHistory(step);
                if (history.Count < t.Patience - 1) return "false";
                return string.Join(" && ", history.Skip(history.Count - (t.Patience - 1)).Select(h => $"argmax{step} == argmax{h}"));
            case ExitCriterion.Ensemble:
                var members = t.Members.Select(m => Condition(m, step)).ToList();
                var sure = members.Count(c => c == "true");
                var open = members.Where(c => c != "true" && c != "false").ToList();
                if (sure >= t.Votes) return "true";
                if (sure + open.Count < t.Votes) return "false";
                var need = t.Votes - sure;
                if (need == open.Count) return string.Join(" && ", open.Select(c => $"({c})"));
                return $"{string.Join(" + ", open.Select(c => $"({c} ? 1 : 0)"))} >= {need}";
            default: throw new System.NotSupportedException($"Exit criterion {t.Criterion}");
        }
    }

    private string HeadCall(ExitPoint e) => e.Head is null ? "Head()" : $"ExitHead{_heads.IndexOf(e.Head)}()";

    /// <summary>How a generated token that stops after step <paramref name="last"/> leaves its missing steps' K/V (rule 4 or recompute).</summary>
    private void WriteStop(int last)
    {
        if (last + 1 >= _steps.Length) return;
        _s.Line(Recompute ? $"Park(pos, next: {last + 1});" : $"PropagateFrom{last + 1}(pos);");
    }

    private void WriteForwardGenerated()
    {
        var exits = ExitSteps;
        var skips = _steps.Take(_depth).Where(s => s.Skip is not null).ToList();
        var argmaxNeeded = ArgMaxNeeded();
        var firstSaturation = exits.FirstOrDefault()?.ExitAfter!.Test.NeedsPreviousState == true ? exits[0].Index : -1;
        _s.Line("/// <summary>");
        _s.Line($"/// A generated token (rule 3): runs steps 0..{_depth - 1}{(_depth < _steps.Length ? $" of {_steps.Length} (plan: decodeDepth {_depth})" : "")}" +
                (exits.Count > 0 ? $", with exit checks after step{(exits.Count > 1 ? "s" : "")} {string.Join(", ", exits.Select(e => e.Index))}." : "."));
        if (skips.Count > 0) _s.Line($"/// Step{(skips.Count > 1 ? "s" : "")} {string.Join(", ", skips.Select(k => k.Index))} may be skipped dynamically (plan: skip); a skipped step still stores its K/V here.");
        _s.Line(Recompute
            ? "/// Steps it does not run are recomputed when a later token first runs them (kvFill recompute)."
            : "/// Steps it does not run get its K/V by propagation (rule 4).");
        _s.Line("/// </summary>");
        _s.Open($"public {Span} Forward(int token)");
        _s.Line("var pos = Enter(token);");
        if (skips.Count > 0) _s.Line("var skipped = 0; // rule 6: skipped steps are not counted as run");
        string Ran(int i) => _steps.Take(i + 1).Any(s => s.Skip is not null) ? $"{i + 1} - skipped" : $"{i + 1}";
        for (var i = 0; i < _depth; i++)
        {
            var st = _steps[i];
            var rule = st.Skip;
            if (rule is not null)
            {
                var test = rule.Test == SkipTest.Cosine
                    ? $"{Engine}.ExitMeasures.Cosine(_enteredPrevious, _x) >= {Literals.Double(rule.Threshold)}"
                    : $"{Engine}.ExitMeasures.Probe(_x, {ProbeName(rule.Probe!)}, {ProbeName(rule.Probe!)}Bias, NormEps) >= {Literals.Double(rule.Threshold)}";
                _s.Line(rule.Test == SkipTest.Cosine
                    ? $"// Skip check before step {i} (plan: skip layer {rule.Layer}, cos ≥ {Literals.Double(rule.Threshold)}): step {i - 1} barely moved the state, so step {i} is"
                    : $"// Skip check before step {i} (plan: skip layer {rule.Layer}, probe {Literals.Comment(rule.Probe!)} ≥ {Literals.Double(rule.Threshold)}): the probe predicts step {i}");
                _s.Line(rule.Test == SkipTest.Cosine
                    ? "// predicted to move it little too. A skipped step leaves the residual alone but stores its K/V from the entering state."
                    : "// would change the state little. A skipped step leaves the residual alone but stores its K/V from the entering state.");
                _s.Line($"var skip{i} = {test};");
            }
            // The comparison states are copied only where a later test reads them.
            if (i + 1 < _depth && _steps[i + 1].Skip?.Test == SkipTest.Cosine) _s.Line("new global::System.ReadOnlySpan<float>(_x).CopyTo(_enteredPrevious);");
            if (i == firstSaturation) _s.Line("new global::System.ReadOnlySpan<float>(_x).CopyTo(_exitState); // state saturation at the first exit point compares with the state entering its step");
            if (rule is not null)
            {
                _s.Open($"if (skip{i})");
                _s.Line($"SkipKv{i}(pos);");
                _s.Line($"Statistics.RecordSkip({i});");
                _s.Line("skipped++;");
                _s.Close();
                _s.Open("else");
            }
            if (Recompute && i > 0) _s.Line($"if (_parkedCount != 0) CatchUp({i});");
            _s.Line($"Step{i}(pos);");
            _s.Line($"Observer?.OnLayerOutput(pos, {i}, {st.Layer}, _x);");
            if (rule is not null) _s.Close();
            if (st.ExitAfter is not { } exit || !exits.Contains(st)) continue;

            var cond = Condition(exit.Test, i);
            var headText = exit.Head is null ? "" : $", head {exit.Head.Output}";
            _s.Line($"// Exit point after step {i} (plan: exits, {Literals.Comment(exit.Test.Describe())}{Literals.Comment(headText)}): {(exit.NeedsHead ? "the exit head's logits decide, and a token" : "decided on the hidden state, so the head runs only for a token")}");
            _s.Line($"// that leaves {(exit.NeedsHead ? "keeps them as its logits" : "here")}.");
            if (exit.NeedsHead) _s.Line($"{HeadCall(exit)};");
            if (argmaxNeeded.Contains(i)) _s.Line($"var argmax{i} = {Engine}.ExitMeasures.ArgMax(_logits); // patience's history");
            if (cond == "true")
            {
                _s.Line($"// The test always passes (plan: {Literals.Comment(exit.Test.Describe())}): every token that gets here leaves.");
                if (!exit.NeedsHead) _s.Line($"{HeadCall(exit)};");
                WriteStop(i);
                _s.Line($"return Finish(pos, stepsRun: {Ran(i)}, exitStep: {i});");
                _s.Close();
                _s.Line();
                return;
            }
            if (cond == "false") _s.Line($"// The test cannot pass here (plan: {Literals.Comment(exit.Test.Describe())}): too few earlier exit heads, or too few votes left.");
            else
            {
                _s.Open($"if ({cond})");
                if (!exit.NeedsHead) _s.Line($"{HeadCall(exit)};");
                WriteStop(i);
                _s.Line($"return Finish(pos, stepsRun: {Ran(i)}, exitStep: {i});");
                _s.Close();
            }
            var nextExit = exits.FirstOrDefault(e => e.Index > i);
            if (nextExit is not null && nextExit.ExitAfter!.Test.NeedsPreviousState)
                _s.Line("new global::System.ReadOnlySpan<float>(_x).CopyTo(_exitState); // the next exit point's state saturation compares with this state");
        }
        var lastExit = _steps[_depth - 1].ExitAfter;
        if (lastExit is not null && exits.Contains(_steps[_depth - 1]) && lastExit.NeedsHead && lastExit.Head is null)
            _s.Line($"// The exit head after step {_depth - 1} already computed the logits.");
        else _s.Line("Head();");
        WriteStop(_depth - 1);
        _s.Line($"return Finish(pos, stepsRun: {(skips.Count > 0 ? $"{_depth} - skipped" : $"{_depth}")}, exitStep: -1);");
        _s.Close();
        _s.Line();
    }
}
