using System.Collections.Generic;

namespace SpecializedInfer.Planning.Decisions;

/// <summary>The exit point after a step, for a generated token that reached it.</summary>
/// <param name="Step">the step the exit point follows</param>
/// <param name="Point">the plan's exit point (for descriptions)</param>
/// <param name="When">the token leaves when this passes; evaluated on the state after the step and, when
/// <paramref name="HeadFirst"/>, on the logits of <paramref name="Head"/></param>
/// <param name="HeadFirst">the head runs before deciding (the test needs logits); otherwise only a token that leaves runs it</param>
/// <param name="Head">the exit head; null: the model's own <c>output_norm</c> and output matrix</param>
/// <param name="ArgMaxSlot">the slot that records the argmax of the head's logits (before deciding) because some patience
/// test reads it; −1 when none does</param>
/// <param name="Leave">what a token that leaves here does with the steps after it</param>
/// <param name="KeepIfStaying">states to copy, when the token stays, for a later exit point's state saturation</param>
public sealed record ExitDecision(
    int Step,
    ExitPoint Point,
    Condition When,
    bool HeadFirst,
    ExitHead? Head,
    int ArgMaxSlot,
    KvLeave Leave,
    IReadOnlyList<TokenState> KeepIfStaying)
{
    private readonly EquatableArray<TokenState> _keepIfStaying = KeepIfStaying.ToEquatableArray();

    public IReadOnlyList<TokenState> KeepIfStaying { get => _keepIfStaying; init => _keepIfStaying = value.ToEquatableArray(); }
}
