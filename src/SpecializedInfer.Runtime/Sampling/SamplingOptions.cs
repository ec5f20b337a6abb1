using System.Globalization;

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
        // Message-only constructors: these sentences reach users as they are, without "(Parameter 'TopP')".
        if (!(Temperature >= 0) || float.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(string.Create(CultureInfo.InvariantCulture, $"The temperature must be a finite number of at least 0, not {Temperature}."), innerException: null);
        if (TopK < 0) throw new ArgumentOutOfRangeException($"top-k must be at least 0, not {TopK}.", innerException: null);
        if (!(TopP > 0 && TopP <= 1))
            throw new ArgumentOutOfRangeException(string.Create(CultureInfo.InvariantCulture, $"top-p must be above 0 and at most 1, not {TopP}."), innerException: null);
    }
}
