using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>
/// Prints a generated token's <c>Forward(int)</c> from the plan's decision model (<see cref="DecodeDecisions"/>): per
/// step the skip check, the states kept for later tests, the step, and the exit check with its head and the way a
/// leaving token fills the cache. Every choice was made by the model; this class only writes it down.
/// </summary>
public sealed class DecisionEmitter(SourceWriter writer, ExecutionSchedule schedule, DecodeDecisions decisions, List<ExitHead> heads)
{
    private int Depth => schedule.DecodeDepth;
    private int StepCount => schedule.Steps.Count;
    private bool Recompute => schedule.KvFill == KvFill.Recompute;
    private bool AnySkips => decisions.Skips.Any();

    /// <summary>The buffers of the states later tests compare with, for the slots the decisions keep.</summary>
    public void WriteStateFields()
    {
        if (decisions.Keeps(StateSlot.SkipReference))
            writer.Line($"private readonly float[] {ConditionPrinter.Slot(StateSlot.SkipReference)} = new float[Dim]; // the state entering the step before a cosine-skippable one");
        if (decisions.Keeps(StateSlot.ExitReference))
            writer.Line($"private readonly float[] {ConditionPrinter.Slot(StateSlot.ExitReference)} = new float[Dim]; // state saturation's comparison state: at the previous exit point, or entering the first");
    }

    /// <summary>Forward(int): the decisions of every step a generated token may reach, then the decode depth's end.</summary>
    public void WriteForwardGenerated()
    {
        WriteForwardSummary();
        using (writer.Block($"public {FloatReadOnlySpan} Forward(int token)"))
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

    private void WriteForwardSummary()
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
    }

    /// <summary>The steps a token that stops after <paramref name="step"/> ran: skipped ones are subtracted at run time.</summary>
    private string Ran(int step) => decisions.Steps.Take(step + 1).Any(s => s.Skip is not null) ? $"{step + 1} - skipped" : $"{step + 1}";

    /// <summary>One step: its skip check, the states kept before it, then the step run (or skipped).</summary>
    private void WriteStep(StepDecision d)
    {
        var layer = schedule.Steps[d.Step].Layer;
        if (d.Skip is { } skip) WriteSkipCheck(skip);
        foreach (var state in d.KeepBefore) WriteKeep(state);
        if (d.Skip is null)
        {
            WriteRun(d.Step, layer);
            return;
        }
        using (writer.Block($"if (skip{d.Step})")) WriteSkipped(d.Step);
        using (writer.Block("else")) WriteRun(d.Step, layer);
    }

    /// <summary>A skipped step: its K/V from the entering state, counted as a skip and not as run.</summary>
    private void WriteSkipped(int step)
    {
        if (schedule.Steps[step].HasKvCache) writer.Line($"SkipKv{step}(pos);");
        else writer.Line($"// Step {step} runs no attention (plan: skipAttention): it has no K/V slot to fill.");
        writer.Line($"Statistics.RecordSkip({step});");
        writer.Line("skipped++;");
    }

    private void WriteRun(int step, int layer)
    {
        if (Recompute && step > 0) writer.Line(RecomputeEmitter.CatchUpCall(step));
        writer.Line($"Step{step}(pos);");
        writer.Line($"Observer?.OnLayerOutput(pos, {step}, {layer}, _x);");
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
        writer.Line($"new {FloatReadOnlySpan}(_x).CopyTo({ConditionPrinter.State(state)}); // {why}");
    }

    /// <summary>The model's head, or exit head h of the weight layout.</summary>
    private string HeadCall(ExitHead? head) => head is null ? "Head()" : $"ExitHead{heads.IndexOf(head)}()";

    /// <summary>An exit point: the head when the test reads logits, patience's argmax, the test, and the states kept for the next one.</summary>
    private void WriteExit(ExitDecision exit)
    {
        var test = Literals.Comment(exit.Point.Test.Describe());
        var headText = exit.Head is null ? "" : $", head {Literals.Comment(exit.Head.Output)}";
        writer.Line($"// Exit point after step {exit.Step} (plan: exits, {test}{headText}): {(exit.HeadFirst ? "the exit head's logits decide, and a token" : "decided on the hidden state, so the head runs only for a token")}");
        writer.Line($"// that leaves {(exit.HeadFirst ? "keeps them as its logits" : "here")}.");
        if (exit.HeadFirst) writer.Line($"{HeadCall(exit.Head)};");
        if (exit.ArgMaxSlot >= 0) writer.Line($"var {ConditionPrinter.ArgMax(exit.ArgMaxSlot)} = {ExitMeasures}.ArgMax(_logits); // patience's history");
        if (exit.When.IsAlways)
        {
            writer.Line($"// The test always passes (plan: {test}): every token that gets here leaves.");
            WriteLeave(exit);
            return;
        }
        if (exit.When.IsNever) writer.Line($"// The test cannot pass here (plan: {test}): too few earlier exit heads, or too few votes left.");
        else
            using (writer.Block($"if ({ConditionPrinter.Expression(exit.When)})"))
                WriteLeave(exit);
        foreach (var state in exit.KeepIfStaying) WriteKeep(state);
    }

    /// <summary>A token leaving at an exit point: its logits (the exit head's), its missing steps' K/V, its count.</summary>
    private void WriteLeave(ExitDecision exit)
    {
        if (!exit.HeadFirst) writer.Line($"{HeadCall(exit.Head)};");
        WriteKv(exit.Leave);
        writer.Line($"return Finish(pos, stepsRun: {Ran(exit.Step)}, exitStep: {exit.Step});");
    }

    /// <summary>A token that reached the decode depth: the model's head (unless an exit head just computed it), its K/V, its count.</summary>
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
