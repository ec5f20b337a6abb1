using System.Collections.Generic;

namespace SpecializedInfer.Planning.Decisions;

/// <summary>
/// Drafting in a lossless plan: steps <c>0 .. Steps − 1</c> (no skips, no earlier exits), then <see cref="Head"/> (the
/// draft exit's, or the model's when it names none), then the draft is confident when <see cref="Confident"/> passes.
/// The draft exit is the token's first and only exit point: state saturation compares with the state entering its
/// step (kept before that step by <see cref="KeepBeforeLast"/>) and patience has a history of one (patience 1 always
/// passes, more never does). <see cref="Condition.ReadsOnlyLogits"/> tells whether the generator can print it (SI0036).
/// </summary>
public sealed record DraftDecision(int Steps, ExitPoint? Exit, ExitHead? Head, Condition Confident, IReadOnlyList<TokenState> KeepBeforeLast)
{
    private readonly EquatableArray<TokenState> _keepBeforeLast = KeepBeforeLast.ToEquatableArray();

    public IReadOnlyList<TokenState> KeepBeforeLast { get => _keepBeforeLast; init => _keepBeforeLast = value.ToEquatableArray(); }
}
