using System.Collections.Generic;

namespace SpecializedInfer.Planning.Decisions;

/// <summary>
/// What a generated token does at schedule step <see cref="Step"/>, in this order: decide <see cref="Skip"/> (on the
/// state entering the step); copy the entering state into the slots of <see cref="KeepBefore"/> (for a later skip rule
/// or state saturation); run the step, or skip it; then, at an exit point, <see cref="Exit"/>.
/// </summary>
public sealed record StepDecision(int Step, SkipDecision? Skip, IReadOnlyList<TokenState> KeepBefore, ExitDecision? Exit)
{
    private readonly EquatableArray<TokenState> _keepBefore = KeepBefore.ToEquatableArray();

    public IReadOnlyList<TokenState> KeepBefore { get => _keepBefore; init => _keepBefore = value.ToEquatableArray(); }
}
