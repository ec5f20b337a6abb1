namespace SpecializedInfer.Planning.Decisions;

/// <summary>What happens to the K/V of the steps a generated token did not run (docs/plans.md, KV strategies).</summary>
public enum KvLeaveKind
{
    /// <summary>The token ran up to the last step: nothing is missing.</summary>
    Nothing,

    /// <summary>CALM (rule 4): steps <see cref="KvLeave.FromStep"/>.. get K/V projected from the state the token stopped with.</summary>
    Propagate,

    /// <summary>EE-LLM: the token parks its state; step <see cref="KvLeave.FromStep"/> is the first it still has to run.</summary>
    Park,
}

/// <summary>How a generated token that stops after step <see cref="FromStep"/> − 1 leaves the cache of the steps after it.</summary>
public sealed record KvLeave(KvLeaveKind Kind, int FromStep)
{
    /// <summary>The leave of a token that stops after <paramref name="lastStep"/> in a schedule of <paramref name="steps"/> steps.</summary>
    public static KvLeave After(int lastStep, int steps, KvFill fill) =>
        lastStep + 1 >= steps ? new KvLeave(KvLeaveKind.Nothing, steps)
        : fill == KvFill.Recompute ? new KvLeave(KvLeaveKind.Park, lastStep + 1)
        : new KvLeave(KvLeaveKind.Propagate, lastStep + 1);
}
