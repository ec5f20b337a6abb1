using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Planning.Decisions;

/// <summary>
/// The run-time meaning of a schedule's dynamic depth, decided once: per step a generated token (<c>Forward(int)</c>)
/// runs, its skip decision, the states to keep, its exit decision; what happens at the decode depth; and, for lossless
/// plans, the draft. The reference engine interprets it and the generator prints it, so neither decides anything.
/// </summary>
/// <param name="Steps">steps <c>0 ..</c> a generated token may reach, in order: up to the decode depth (every step, without
/// skips or exits, under <c>lossless</c>), or up to an exit point every token leaves at</param>
/// <param name="End">what a token that reaches the decode depth does; null when an exit point before it always passes</param>
/// <param name="Draft">lossless plans: how a token is drafted; otherwise null</param>
/// <param name="ArgMaxSlots">how many exit-point argmaxes patience tests compare (slots <c>0 .. ArgMaxSlots − 1</c>)</param>
public sealed record DecodeDecisions(IReadOnlyList<StepDecision> Steps, DecodeEnd? End, DraftDecision? Draft, int ArgMaxSlots)
{
    private readonly EquatableArray<StepDecision> _steps = Steps.ToEquatableArray();

    public IReadOnlyList<StepDecision> Steps { get => _steps; init => _steps = value.ToEquatableArray(); }

    /// <summary>The exit decisions a generated token may meet, in step order.</summary>
    public IEnumerable<ExitDecision> Exits => Steps.Where(s => s.Exit is not null).Select(s => s.Exit!);

    /// <summary>The skip decisions a generated token may meet, in step order.</summary>
    public IEnumerable<SkipDecision> Skips => Steps.Where(s => s.Skip is not null).Select(s => s.Skip!);

    /// <summary>Every way a token may leave: at each exit point whose test can pass, then at the decode depth.</summary>
    public IEnumerable<KvLeave> Leaves =>
        Exits.Where(e => !e.When.IsNever).Select(e => e.Leave).Concat(End is null ? Enumerable.Empty<KvLeave>() : new[] { End.Leave });

    /// <summary>The first step of every propagation a token may need (rule 4), ascending.</summary>
    public IEnumerable<int> PropagationStarts => Leaves.Where(l => l.Kind == KvLeaveKind.Propagate).Select(l => l.FromStep).Distinct().OrderBy(s => s);

    /// <summary>True when some step keeps a state in <paramref name="slot"/> (an executor then needs a buffer for it).</summary>
    public bool Keeps(StateSlot slot) =>
        Steps.Any(s => s.KeepBefore.Any(k => k.Slot == slot) || (s.Exit?.KeepIfStaying.Any(k => k.Slot == slot) ?? false));

    /// <summary>Decides everything <paramref name="schedule"/> leaves to run time.</summary>
    public static DecodeDecisions For(ExecutionSchedule schedule)
    {
        var steps = schedule.Steps;
        var fill = schedule.KvFill;
        // Under lossless, Forward(int) is the full model: exits only gate drafting, skip rules are not allowed.
        var dynamicDepth = fill != KvFill.Lossless;
        var depth = dynamicDepth ? schedule.DecodeDepth : steps.Count;
        var exitSteps = dynamicDepth ? steps.Take(depth).Where(s => s.ExitAfter is not null).Select(s => s.Index).ToList() : new List<int>();

        // Exit conditions twice: first naming argmaxes by step to learn which ones patience reads, then with dense slots.
        var readArgMax = new SortedSet<int>();
        foreach (var e in exitSteps)
            foreach (var step in ExitCondition(e, s => s).ArgMaxSlots) readArgMax.Add(step);
        var slots = readArgMax.Select((step, slot) => (step, slot)).ToDictionary(p => p.step, p => p.slot);
        var exitConditions = exitSteps.ToDictionary(e => e, e => ExitCondition(e, s => slots[s]));

        var skips = new Dictionary<int, SkipDecision>();
        if (dynamicDepth)
            foreach (var st in steps.Take(depth).Where(s => s.Skip is not null))
                if (ConditionBuilder.Skip(st.Skip!, st.Index, schedule.Probes) is { IsNever: false } when)
                    skips[st.Index] = new SkipDecision(st.Index, st.Skip!, when);

        var decisions = new List<StepDecision>();
        DecodeEnd? end = null;
        for (var i = 0; i < depth; i++)
        {
            var keep = new List<TokenState>();
            if (skips.TryGetValue(i + 1, out var nextSkip) && nextSkip.When.Reads(StateSlot.SkipReference))
                keep.Add(new TokenState(StatePoint.Entering, i, StateSlot.SkipReference));
            if (exitSteps.Count > 0 && exitSteps[0] == i && exitConditions[i].Reads(StateSlot.ExitReference))
                keep.Add(new TokenState(StatePoint.Entering, i, StateSlot.ExitReference));

            ExitDecision? exit = null;
            if (exitConditions.TryGetValue(i, out var when))
            {
                var point = steps[i].ExitAfter!;
                var next = exitSteps.FirstOrDefault(e => e > i);
                var keepIfStaying = next > i && exitConditions[next].Reads(StateSlot.ExitReference)
                    ? new[] { new TokenState(StatePoint.After, i, StateSlot.ExitReference) }
                    : new TokenState[0];
                exit = new ExitDecision(i, point, when, point.NeedsHead, point.Head, slots.TryGetValue(i, out var slot) ? slot : -1,
                    KvLeave.After(i, steps.Count, fill), keepIfStaying.ToEquatableArray());
            }
            decisions.Add(new StepDecision(i, skips.TryGetValue(i, out var skip) ? skip : null, keep.ToEquatableArray(), exit));
            if (exit is { When.IsAlways: true }) break; // every token that gets here leaves: nothing after it is reachable
            if (i == depth - 1)
                end = new DecodeEnd(i, exit is { HeadFirst: true, Head: null }, KvLeave.After(i, steps.Count, fill));
        }

        return new DecodeDecisions(decisions.ToEquatableArray(), end, Drafting(schedule), slots.Count);

        Condition ExitCondition(int step, System.Func<int, int> slotOf)
        {
            var previous = exitSteps.Where(e => e < step).ToList();
            var history = previous.Where(e => steps[e].ExitAfter!.NeedsHead).ToList();
            var reference = previous.Count > 0
                ? new TokenState(StatePoint.After, previous[previous.Count - 1], StateSlot.ExitReference)
                : new TokenState(StatePoint.Entering, step, StateSlot.ExitReference);
            return ConditionBuilder.Exit(steps[step].ExitAfter!.Test, new ConditionBuilder.ExitContext(step, history, reference, schedule.Probes, slotOf));
        }
    }

    /// <summary>The draft of a lossless plan: its exit point (after the last draft step) is the token's first and only one.</summary>
    private static DraftDecision? Drafting(ExecutionSchedule schedule)
    {
        if (schedule.Speculation is not { } speculation) return null;
        var last = speculation.DraftSteps - 1;
        var exit = schedule.Steps[last].ExitAfter;
        var confident = exit is null
            ? Condition.Always
            : ConditionBuilder.Exit(exit.Test, new ConditionBuilder.ExitContext(
                last, new int[0], new TokenState(StatePoint.Entering, last, StateSlot.ExitReference), schedule.Probes, _ => -1));
        var keep = confident.Reads(StateSlot.ExitReference)
            ? new[] { new TokenState(StatePoint.Entering, last, StateSlot.ExitReference) }
            : new TokenState[0];
        return new DraftDecision(speculation.DraftSteps, exit, exit?.Head, confident, keep.ToEquatableArray());
    }
}
