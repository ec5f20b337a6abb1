using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// Prints a generated token's <c>Forward(int)</c> from the plan's decision model (<see cref="DecodeDecisions"/>): per
/// step the skip check, the states kept for later tests, the step, and the exit check with its head and the way a
/// leaving token fills the cache. Every choice was made by the model; this class only writes it down.
/// </summary>
public sealed class DecisionEmitter(SourceWriter writer, ExecutionSchedule schedule, DecodeDecisions decisions, List<ExitHead> heads)
{
    private const string Engine = "global::SpecializedInfer.Engine";
    private const string Span = "global::System.ReadOnlySpan<float>";

    private int Depth => schedule.DecodeDepth;
    private int StepCount => schedule.Steps.Count;
    private bool Recompute => schedule.KvFill == KvFill.Recompute;
    private bool AnySkips => decisions.Skips.Any();

    public void WriteForwardGenerated()
    {
        var exits = decisions.Exits.Select(e => e.Step).ToList();
        var skips = decisions.Skips.Select(k => k.Step).ToList();
        writer.Line("/// <summary>");
        writer.Line($"/// A generated token (rule 3): runs steps 0..{Depth - 1}{(Depth < StepCount ? $" of {StepCount} (plan: decodeDepth {Depth})" : "")}" +
                    (exits.Count > 0 ? $", with exit checks after step{(exits.Count > 1 ? "s" : "")} {string.Join(", ", exits)}." : "."));
        if (skips.Count > 0) writer.Line($"/// Step{(skips.Count > 1 ? "s" : "")} {string.Join(", ", skips)} may be skipped dynamically (plan: skip); a skipped step still stores its K/V here.");
        writer.Line(Recompute
            ? "/// Steps it does not run are recomputed when a later token first runs them (kvFill recompute)."
            : "/// Steps it does not run get its K/V by propagation (rule 4).");
        writer.Line("/// </summary>");
        using (writer.Block($"public {Span} Forward(int token)"))
        {
            writer.Line("var pos = Enter(token);");
            if (AnySkips) writer.Line("var skipped = 0; // rule 6: skipped steps are not counted as run");
            foreach (var d in decisions.Steps)
            {
                WriteStep(d);
                if (d.Exit is { } exit) WriteExit(exit);
            }
            if (decisions.End is { } end) WriteEnd(end);
        }
        writer.Line();
    }

    /// <summary>The steps a token that stops after <paramref name="step"/> ran: skipped ones are subtracted at run time.</summary>
    private string Ran(int step) => decisions.Steps.Take(step + 1).Any(s => s.Skip is not null) ? $"{step + 1} - skipped" : $"{step + 1}";

    private void WriteStep(StepDecision d)
    {
        var i = d.Step;
        var layer = schedule.Steps[i].Layer;
        if (d.Skip is { } skip) WriteSkipCheck(skip);
        foreach (var state in d.KeepBefore) WriteKeep(state);
        if (d.Skip is null) WriteRun(i, layer);
        else
        {
            using (writer.Block($"if (skip{i})"))
            {
                writer.Line($"SkipKv{i}(pos);");
                writer.Line($"Statistics.RecordSkip({i});");
                writer.Line("skipped++;");
            }
            using (writer.Block("else")) WriteRun(i, layer);
        }
    }

    private void WriteRun(int i, int layer)
    {
        if (Recompute && i > 0) writer.Line(RecomputeEmitter.CatchUpCall(i));
        writer.Line($"Step{i}(pos);");
        writer.Line($"Observer?.OnLayerOutput(pos, {i}, {layer}, _x);");
    }

    private void WriteSkipCheck(SkipDecision skip)
    {
        var i = skip.Step;
        var rule = skip.Rule;
        var threshold = Literals.Double(rule.Threshold);
        if (rule.Test == SkipTest.Cosine)
        {
            writer.Line($"// Skip check before step {i} (plan: skip layer {rule.Layer}, cos ≥ {threshold}): step {i - 1} barely moved the state, so step {i} is");
            writer.Line("// predicted to move it little too. A skipped step leaves the residual alone but stores its K/V from the entering state.");
        }
        else
        {
            writer.Line($"// Skip check before step {i} (plan: skip layer {rule.Layer}, probe {Literals.Comment(rule.Probe!)} ≥ {threshold}): the probe predicts step {i}");
            writer.Line("// would change the state little. A skipped step leaves the residual alone but stores its K/V from the entering state.");
        }
        writer.Line($"var skip{i} = {ConditionPrinter.Expression(skip.When)};");
    }

    /// <summary>A copy of the current state for a later test (the model says which, and for what).</summary>
    private void WriteKeep(TokenState state)
    {
        var why = state.Slot == StateSlot.SkipReference
            ? $"the skip check before step {state.Step + 1} compares with the state entering step {state.Step}"
            : state.Point == StatePoint.Entering
                ? "state saturation at the first exit point compares with the state entering its step"
                : "the next exit point's state saturation compares with this state";
        writer.Line($"new global::System.ReadOnlySpan<float>(_x).CopyTo({ConditionPrinter.State(state)}); // {why}");
    }

    private string HeadCall(ExitHead? head) => head is null ? "Head()" : $"ExitHead{heads.IndexOf(head)}()";

    private void WriteExit(ExitDecision exit)
    {
        var i = exit.Step;
        var test = Literals.Comment(exit.Point.Test.Describe());
        var headText = exit.Head is null ? "" : $", head {Literals.Comment(exit.Head.Output)}";
        writer.Line($"// Exit point after step {i} (plan: exits, {test}{headText}): {(exit.HeadFirst ? "the exit head's logits decide, and a token" : "decided on the hidden state, so the head runs only for a token")}");
        writer.Line($"// that leaves {(exit.HeadFirst ? "keeps them as its logits" : "here")}.");
        if (exit.HeadFirst) writer.Line($"{HeadCall(exit.Head)};");
        if (exit.ArgMaxSlot >= 0) writer.Line($"var {ConditionPrinter.ArgMax(exit.ArgMaxSlot)} = {Engine}.ExitMeasures.ArgMax(_logits); // patience's history");
        if (exit.When.IsAlways)
        {
            writer.Line($"// The test always passes (plan: {test}): every token that gets here leaves.");
            WriteLeave(exit, i);
            return;
        }
        if (exit.When.IsNever) writer.Line($"// The test cannot pass here (plan: {test}): too few earlier exit heads, or too few votes left.");
        else
            using (writer.Block($"if ({ConditionPrinter.Expression(exit.When)})"))
                WriteLeave(exit, i);
        foreach (var state in exit.KeepIfStaying) WriteKeep(state);
    }

    /// <summary>A token leaving at an exit point: its logits (the exit head's), its missing steps' K/V, its count.</summary>
    private void WriteLeave(ExitDecision exit, int i)
    {
        if (!exit.HeadFirst) writer.Line($"{HeadCall(exit.Head)};");
        WriteKv(exit.Leave);
        writer.Line($"return Finish(pos, stepsRun: {Ran(i)}, exitStep: {i});");
    }

    private void WriteEnd(DecodeEnd end)
    {
        if (end.ReusesExitLogits) writer.Line($"// The exit head after step {end.LastStep} already computed the logits.");
        else writer.Line("Head();");
        WriteKv(end.Leave);
        writer.Line($"return Finish(pos, stepsRun: {(AnySkips ? $"{end.LastStep + 1} - skipped" : $"{end.LastStep + 1}")}, exitStep: -1);");
    }

    /// <summary>How a stopping token leaves the K/V of the steps it did not run (rule 4, or parking under recompute).</summary>
    private void WriteKv(KvLeave leave)
    {
        if (leave.Kind == KvLeaveKind.Park) writer.Line(RecomputeEmitter.ParkCall(leave.FromStep));
        else if (leave.Kind == KvLeaveKind.Propagate) writer.Line($"PropagateFrom{leave.FromStep}(pos);");
    }
}
