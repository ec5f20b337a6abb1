namespace SpecializedInfer.Engine;

/// <summary>
/// What a session's plan did: how deep generated tokens went and where they left. Prompt tokens always run the
/// full schedule and are only counted.
/// </summary>
public sealed class SessionStatistics
{
    private readonly long[] _stepsHistogram;
    private readonly long[] _exitsPerStep;
    private readonly long[] _skipsPerStep;

    public SessionStatistics(int scheduleSteps)
    {
        ScheduleSteps = scheduleSteps;
        _stepsHistogram = new long[scheduleSteps + 1];
        _exitsPerStep = new long[scheduleSteps];
        _skipsPerStep = new long[scheduleSteps];
    }

    public int ScheduleSteps { get; }
    public long PromptTokens { get; private set; }
    public long GeneratedTokens { get; private set; }

    /// <summary>Steps run by generated tokens, summed (skipped steps not counted).</summary>
    public long GeneratedSteps { get; private set; }

    /// <summary>Mean number of schedule steps (layers) a generated token ran.</summary>
    public double MeanStepsPerGeneratedToken => GeneratedTokens == 0 ? 0 : (double)GeneratedSteps / GeneratedTokens;

    /// <summary>Index n: how many generated tokens ran exactly n steps.</summary>
    public ReadOnlySpan<long> StepsHistogram => _stepsHistogram;

    /// <summary>Index s: how many generated tokens exited at the exit point after step s.</summary>
    public ReadOnlySpan<long> ExitsPerStep => _exitsPerStep;

    /// <summary>Index s: how many generated tokens skipped schedule step s (dynamic layer skipping).</summary>
    public ReadOnlySpan<long> SkipsPerStep => _skipsPerStep;

    /// <summary>Steps run later for positions that had exited (KV strategy <c>recompute</c>), summed over positions.</summary>
    public long RecomputedSteps { get; private set; }

    /// <summary>Self-speculative decoding: verification passes, tokens drafted, and drafted tokens the full schedule confirmed.</summary>
    public long VerificationPasses { get; private set; }
    public long DraftedTokens { get; private set; }
    public long AcceptedDrafts { get; private set; }

    /// <summary>Accepted drafted tokens / drafted tokens (0 when nothing was drafted).</summary>
    public double AcceptanceRate => DraftedTokens == 0 ? 0 : (double)AcceptedDrafts / DraftedTokens;

    /// <summary>
    /// Counts every prompt or generated token recorded and survives <see cref="Reset"/>: a session compares it before
    /// and after to learn whether its cache was written in between (draft reuse in self-speculative decoding).
    /// </summary>
    internal long Recordings { get; private set; }

    public void RecordPrompt()
    {
        PromptTokens++;
        Recordings++;
    }

    public void RecordSkip(int step) => _skipsPerStep[step]++;

    public void RecordRecomputed(int steps) => RecomputedSteps += steps;

    public void RecordVerification(int drafted, int accepted)
    {
        VerificationPasses++;
        DraftedTokens += drafted;
        AcceptedDrafts += accepted;
    }

    public void RecordGenerated(int stepsRun, int exitStep)
    {
        GeneratedTokens++;
        Recordings++;
        GeneratedSteps += stepsRun;
        _stepsHistogram[stepsRun]++;
        if (exitStep >= 0) _exitsPerStep[exitStep]++;
    }

    public void Reset()
    {
        PromptTokens = GeneratedTokens = GeneratedSteps = RecomputedSteps = VerificationPasses = DraftedTokens = AcceptedDrafts = 0;
        Array.Clear(_stepsHistogram);
        Array.Clear(_exitsPerStep);
        Array.Clear(_skipsPerStep);
    }
}
