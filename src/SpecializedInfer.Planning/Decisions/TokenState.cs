namespace SpecializedInfer.Planning.Decisions;

/// <summary>When a hidden state of the token being decoded existed: before a step ran (or was skipped), or after it.</summary>
public enum StatePoint
{
    /// <summary>The residual stream entering the step (the embedding at step 0).</summary>
    Entering,

    /// <summary>The residual stream after the step (unchanged from entering it when the step was skipped).</summary>
    After,
}

/// <summary>
/// Where an executor finds a state a condition reads. A condition is evaluated at one moment (a skip check just before
/// its step, an exit check just after its step); the state of that moment is <see cref="Current"/>, and an earlier
/// state must have been copied into its slot when it was current (the decisions' keep lists say when).
/// </summary>
public enum StateSlot
{
    /// <summary>The state the executor holds when it evaluates the condition.</summary>
    Current,

    /// <summary>Kept for a cosine skip rule: the state that entered the previous step.</summary>
    SkipReference,

    /// <summary>Kept for state saturation: the state at the previous exit point, or entering the step of the first one.</summary>
    ExitReference,
}

/// <summary>
/// A named hidden state of the token being decoded: "entering step 2", "after step 3", and the slot an executor reads
/// it from. Two slots are enough: a cosine skip chain and a saturation chain each read a state before the next one of
/// its kind is kept.
/// </summary>
public sealed record TokenState(StatePoint Point, int Step, StateSlot Slot)
{
    /// <summary>"entering step 2", "after step 3".</summary>
    public string Describe() => $"{(Point == StatePoint.Entering ? "entering" : "after")} step {Step}";
}
