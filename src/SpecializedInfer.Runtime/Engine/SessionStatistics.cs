namespace SpecializedInfer.Engine;

/// <summary>
/// What a session's plan did: how deep generated tokens went and where they left. Prompt tokens always run the
/// full schedule and are only counted.
/// </summary>
public sealed class SessionStatistics
{
    private readonly long[] _stepsHistogram;
    private readonly long[] _exitsPerStep;

    public SessionStatistics(int scheduleSteps)
    {
        ScheduleSteps = scheduleSteps;
        _stepsHistogram = new long[scheduleSteps + 1];
        _exitsPerStep = new long[scheduleSteps];
    }

    public int ScheduleSteps { get; }
    public long PromptTokens { get; private set; }
    public long GeneratedTokens { get; private set; }

    /// <summary>Steps run by generated tokens, summed.</summary>
    public long GeneratedSteps { get; private set; }

    /// <summary>Mean number of schedule steps (layers) a generated token ran.</summary>
    public double MeanStepsPerGeneratedToken => GeneratedTokens == 0 ? 0 : (double)GeneratedSteps / GeneratedTokens;

    /// <summary>Index n: how many generated tokens ran exactly n steps.</summary>
    public ReadOnlySpan<long> StepsHistogram => _stepsHistogram;

    /// <summary>Index s: how many generated tokens exited at the exit point after step s.</summary>
    public ReadOnlySpan<long> ExitsPerStep => _exitsPerStep;

    public void RecordPrompt() => PromptTokens++;

    public void RecordGenerated(int stepsRun, int exitStep)
    {
        GeneratedTokens++;
        GeneratedSteps += stepsRun;
        _stepsHistogram[stepsRun]++;
        if (exitStep >= 0) _exitsPerStep[exitStep]++;
    }

    public void Reset()
    {
        PromptTokens = GeneratedTokens = GeneratedSteps = 0;
        Array.Clear(_stepsHistogram);
        Array.Clear(_exitsPerStep);
    }
}
