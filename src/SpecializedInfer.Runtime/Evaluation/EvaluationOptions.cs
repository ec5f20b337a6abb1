namespace SpecializedInfer.Evaluation;

/// <summary>How <see cref="QualityEvaluator"/> measures a plan against the full model.</summary>
public sealed record EvaluationOptions
{
    /// <summary>Greedy tokens per prompt, teacher-forced and free-running (the first comes from the prompt's logits).</summary>
    public int MaxNewTokens { get; init; } = 256;

    /// <summary>Tokens per perplexity window: each window starts a fresh sequence, so at most this much context.</summary>
    public int PerplexityWindow { get; init; } = 256;

    /// <summary>Prepend BOS to every prompt (the text for perplexity always starts with BOS).</summary>
    public bool AddBos { get; init; } = true;

    /// <summary>End a continuation at EOS (EOS itself is the last compared token), as <c>si run</c> does.</summary>
    public bool StopAtEos { get; init; } = true;

    /// <summary>Threads each session computes on (0: the physical cores); the measurements are the same for any number.</summary>
    public int Threads { get; init; }

    public void Validate()
    {
        if (MaxNewTokens < 1) throw new ArgumentOutOfRangeException($"At least one new token per prompt is needed, not {MaxNewTokens}.", innerException: null);
        if (PerplexityWindow < 2) throw new ArgumentOutOfRangeException($"A perplexity window needs at least two tokens, not {PerplexityWindow}.", innerException: null);
        if (Threads < 0) throw new ArgumentOutOfRangeException($"Threads are 0 (the physical cores) or more, not {Threads}.", innerException: null);
    }
}

/// <summary>Where a run is: <paramref name="Done"/> of <paramref name="Total"/> prompts or windows of <paramref name="Phase"/>.</summary>
public readonly record struct EvaluationProgress(string Phase, int Done, int Total);
