using SpecializedInfer.Planning;

namespace SpecializedInfer.Evaluation;

/// <summary>
/// A plan measured against the full model on the same prompts and text in one run. "Full" is whatever model was
/// passed as the baseline: for <c>si eval</c>, the same GGUF without a plan.
/// </summary>
public sealed record QualityReport(
    string FullName,
    string PlanName,
    ExecutionSchedule FullSchedule,
    ExecutionSchedule PlanSchedule,
    int Prompts,
    EvaluationOptions Options,
    TeacherForcedResult TeacherForced,
    FreeRunningResult FreeRunning,
    PerplexityResult? Perplexity)
{
    /// <summary>Greedy decode speed of both models, from the free-running pass.</summary>
    public SpeedComparison Speed => FreeRunning.Speed;
}

/// <summary>
/// The full model's own greedy continuation of each prompt fed to both models: the prompt through
/// <c>Forward(span)</c>, the continuation through <c>Forward(int)</c>. Each position is one next-token prediction:
/// the one from the prompt's logits and one per fed continuation token.
/// </summary>
public sealed record TeacherForcedResult(long Positions, long Agreements, double KlSum, double MaxKl)
{
    /// <summary>Fraction of positions where the plan's argmax is the full model's (the continuation's next token).</summary>
    public double Agreement => Positions == 0 ? double.NaN : (double)Agreements / Positions;

    /// <summary>Mean KL(full ‖ plan) of the next-token distributions, in nats.</summary>
    public double MeanKl => Positions == 0 ? double.NaN : KlSum / Positions;
}

/// <summary>
/// Each model generating greedily on its own. Sequences are compared position by position; where one is longer
/// (the other stopped at EOS) the extra positions count as different.
/// </summary>
public sealed record FreeRunningResult(
    int Sequences,
    long ComparedTokens,
    long IdenticalTokens,
    long IdenticalPrefixTokens,
    long FullTokens,
    long PlanTokens,
    SpeedComparison Speed,
    DepthStatistics FullDepth,
    DepthStatistics PlanDepth)
{
    /// <summary>Identical tokens over compared positions (the longer sequence's length, summed over prompts).</summary>
    public double IdenticalFraction => ComparedTokens == 0 ? double.NaN : (double)IdenticalTokens / ComparedTokens;

    /// <summary>Mean number of leading tokens the two generations share.</summary>
    public double MeanIdenticalPrefix => Sequences == 0 ? double.NaN : (double)IdenticalPrefixTokens / Sequences;
}

/// <summary>
/// Perplexity of a token stream (BOS first) cut into windows of at most <see cref="EvaluationOptions.PerplexityWindow"/>
/// tokens; a window's first token goes in as the prompt and is not predicted, the rest are teacher-forced as
/// generated tokens, so a plan's decode depth and exits apply.
/// </summary>
public sealed record PerplexityResult(int Tokens, int Windows, long Predictions, double FullNllSum, double PlanNllSum)
{
    /// <summary>Mean negative log-likelihood per predicted token, in nats.</summary>
    public double FullMeanNll => FullNllSum / Predictions;
    public double PlanMeanNll => PlanNllSum / Predictions;
    public double FullPerplexity => Math.Exp(FullMeanNll);
    public double PlanPerplexity => Math.Exp(PlanMeanNll);
}

/// <summary>Generated-token forward passes (with the greedy pick) and the seconds they took; prompt time excluded.</summary>
public sealed record DecodeSpeed(long Steps, double Seconds)
{
    public double TokensPerSecond => Seconds > 0 ? Steps / Seconds : double.NaN;
}

/// <summary>Both models' decode speed, measured interleaved in the same run.</summary>
public sealed record SpeedComparison(DecodeSpeed Full, DecodeSpeed Plan)
{
    /// <summary>Plan tokens/s over full tokens/s.</summary>
    public double Speedup => Plan.TokensPerSecond / Full.TokensPerSecond;
}

/// <summary>
/// Depth of generated tokens, summed over sessions (<see cref="Engine.SessionStatistics"/>): steps run, exits per
/// exit point, skips per step, steps recomputed for exited positions, and self-speculative drafting.
/// </summary>
public sealed record DepthStatistics(int ScheduleSteps, long GeneratedTokens, long GeneratedSteps, IReadOnlyList<long> StepsHistogram, IReadOnlyList<ExitCount> Exits)
{
    /// <summary>Index s: generated tokens that skipped step s.</summary>
    public IReadOnlyList<long> SkipsPerStep { get; init; } = [];
    public long RecomputedSteps { get; init; }
    public long VerificationPasses { get; init; }
    public long DraftedTokens { get; init; }
    public long AcceptedDrafts { get; init; }

    /// <summary>Accepted drafted tokens over drafted tokens (NaN when nothing was drafted).</summary>
    public double AcceptanceRate => DraftedTokens == 0 ? double.NaN : (double)AcceptedDrafts / DraftedTokens;

    /// <summary>Mean schedule steps a generated token ran.</summary>
    public double MeanSteps => GeneratedTokens == 0 ? double.NaN : (double)GeneratedSteps / GeneratedTokens;
}

/// <summary>How many generated tokens left at one exit point.</summary>
public sealed record ExitCount(ExitPoint Exit, long Tokens);
