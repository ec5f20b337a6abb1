using System;
using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Planning.Decisions;

/// <summary>
/// Turns exit tests and skip rules into <see cref="Condition"/>s, folding what the schedule alone decides: patience 1
/// always passes, patience without enough earlier heads never does, an ensemble whose votes are settled is
/// <see cref="Condition.Always"/> or <see cref="Condition.Never"/>, and a cosine rule at step 0 never skips.
/// </summary>
public static class ConditionBuilder
{
    /// <summary>Where an exit test is evaluated: what it may compare with.</summary>
    /// <param name="Step">the exit point's step; its hidden state is the current one</param>
    /// <param name="History">the steps of the earlier exit points this token passed that computed a head, in order (patience)</param>
    /// <param name="Reference">the state state saturation compares with</param>
    /// <param name="Probes">the schedule's probes (a probe measure records its index)</param>
    /// <param name="ArgMaxSlot">the argmax slot of an exit point, by its step</param>
    public sealed record ExitContext(int Step, IReadOnlyList<int> History, TokenState Reference, IReadOnlyList<LinearProbe> Probes, Func<int, int> ArgMaxSlot);

    /// <summary>The condition under which a token leaves at an exit point with <paramref name="test"/>.</summary>
    public static Condition Exit(ExitTest test, ExitContext cx)
    {
        var here = new TokenState(StatePoint.After, cx.Step, StateSlot.Current);
        switch (test.Criterion)
        {
            case ExitCriterion.MaxProbability: return Logits(LogitsMeasureKind.MaxProbability, Bound.AtLeast, test.Threshold);
            case ExitCriterion.Margin: return Logits(LogitsMeasureKind.Margin, Bound.AtLeast, test.Threshold);
            case ExitCriterion.Entropy: return Logits(LogitsMeasureKind.Entropy, Bound.AtMost, test.Threshold);
            case ExitCriterion.StateSaturation: return new ThresholdTest(new CosineMeasure(here, cx.Reference), Bound.AtLeast, test.Threshold);
            case ExitCriterion.Learned: return new ThresholdTest(Probe(test.Probe!, here, cx.Probes), Bound.AtLeast, test.Threshold);
            case ExitCriterion.Patience:
            {
                // The history ends with this exit point's own argmax: k passes when the last k entries agree.
                var k = test.Patience;
                if (k <= 1) return Condition.Always;
                if (cx.History.Count < k - 1) return Condition.Never;
                var slot = cx.ArgMaxSlot(cx.Step);
                return All(cx.History.Skip(cx.History.Count - (k - 1)).Select(h => (Condition)new SameArgMax(slot, cx.ArgMaxSlot(h))).ToList());
            }
            case ExitCriterion.Ensemble: return Votes(test.Votes, test.Members.Select(m => Exit(m, cx)).ToList());
            default: throw new NotSupportedException($"Exit criterion {test.Criterion} is not implemented.");
        }
    }

    /// <summary>
    /// The condition under which a generated token skips step <paramref name="step"/> (evaluated on the state entering
    /// it): a cosine rule compares with the state that entered the previous step; a learned rule scores the entering state.
    /// </summary>
    public static Condition Skip(SkipRule rule, int step, IReadOnlyList<LinearProbe> probes)
    {
        var entering = new TokenState(StatePoint.Entering, step, StateSlot.Current);
        return rule.Test switch
        {
            SkipTest.Cosine when step == 0 => Condition.Never, // no previous step to compare with
            SkipTest.Cosine => new ThresholdTest(
                new CosineMeasure(new TokenState(StatePoint.Entering, step - 1, StateSlot.SkipReference), entering), Bound.AtLeast, rule.Threshold),
            SkipTest.Learned => new ThresholdTest(Probe(rule.Probe!, entering, probes), Bound.AtLeast, rule.Threshold),
            _ => throw new NotSupportedException($"Skip test {rule.Test} is not implemented."),
        };
    }

    /// <summary>
    /// A cascade's acceptance: <paramref name="test"/> judged on final logits alone. Tests that need hidden states or
    /// earlier exit points (state saturation, patience, learned probes, ensembles with one of those) cannot judge
    /// final logits and are refused.
    /// </summary>
    /// <exception cref="ArgumentException">the test needs more than logits</exception>
    public static Condition OnLogitsOnly(ExitTest test)
    {
        if (test is null) throw new ArgumentNullException(nameof(test));
        CheckLogitsOnly(test);
        return Exit(test, new ExitContext(-1, Array.Empty<int>(), new TokenState(StatePoint.After, -1, StateSlot.Current), Array.Empty<LinearProbe>(), _ => -1));
    }

    private static void CheckLogitsOnly(ExitTest test)
    {
        switch (test.Criterion)
        {
            case ExitCriterion.MaxProbability or ExitCriterion.Margin or ExitCriterion.Entropy:
                return;
            case ExitCriterion.Ensemble:
                foreach (var member in test.Members) CheckLogitsOnly(member);
                return;
            default:
                throw new ArgumentException(
                    $"A cascade judges the first engine's final logits only; '{test.Describe()}' ({test.Criterion}) needs hidden states or earlier exit points. Use maxProbability, margin, entropy or an ensemble of them.");
        }
    }

    private static Condition Logits(LogitsMeasureKind kind, Bound bound, double threshold) => new ThresholdTest(new LogitsMeasure(kind), bound, threshold);

    private static ProbeMeasure Probe(string file, TokenState state, IReadOnlyList<LinearProbe> probes)
    {
        var index = -1;
        for (var i = 0; i < probes.Count && index < 0; i++)
            if (probes[i].File == file) index = i;
        return new ProbeMeasure(file, index, state);
    }

    /// <summary>At least <paramref name="votes"/> of <paramref name="members"/>, with the settled members folded away.</summary>
    private static Condition Votes(int votes, List<Condition> members)
    {
        var sure = members.Count(m => m.IsAlways);
        var open = members.Where(m => m is not ConstantCondition).ToList();
        if (sure >= votes) return Condition.Always;
        if (sure + open.Count < votes) return Condition.Never;
        var need = votes - sure;
        return need == open.Count ? All(open) : new AtLeastOf(need, open.ToEquatableArray());
    }

    private static Condition All(List<Condition> conditions) => conditions.Count == 1 ? conditions[0] : new AllOf(conditions.ToEquatableArray());
}
