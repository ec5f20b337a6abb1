namespace SpecializedInfer.Sampling;

/// <summary>How the next token is picked. Temperature 0 is greedy (argmax, lowest id on ties).</summary>
public sealed record SamplingOptions
{
    public float Temperature { get; init; }

    /// <summary>Keep only the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches p; 1 keeps all.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Seed of the random stream; the same seed and logits give the same tokens on every run and build.</summary>
    public ulong Seed { get; init; } = 42;

    public static SamplingOptions Greedy { get; } = new();

    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be a finite number >= 0.");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top-k must be >= 0.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top-p must be in (0, 1].");
    }
}
