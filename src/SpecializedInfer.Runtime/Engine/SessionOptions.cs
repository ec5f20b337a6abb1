namespace SpecializedInfer.Engine;

/// <summary>How a session is made: the context it holds and the threads it computes on.</summary>
public sealed record SessionOptions
{
    /// <summary>Positions the session holds at most (0: the model's context length).</summary>
    public int ContextLength { get; init; }

    /// <summary>
    /// Threads a forward pass runs on, the caller's included (0: the machine's physical cores). Matrix rows and
    /// attention heads are split between them, each output computed by one thread in one order, so the logits are
    /// the same bits for any number.
    /// </summary>
    public int Threads { get; init; }

    /// <summary><see cref="Threads"/>, or the physical cores when it is 0.</summary>
    public int EffectiveThreads => Threads > 0 ? Threads : PhysicalCores.Count;
}
