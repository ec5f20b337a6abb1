using SpecializedInfer.Planning;

namespace SpecializedInfer.Learning.Search;

/// <summary>The family a candidate comes from (what <c>si plan</c> varies to make it).</summary>
public enum CandidateKind
{
    /// <summary>The model unchanged: the anchor of the front (agreement 1, speed 1 by definition).</summary>
    Full,

    /// <summary>Layers pruned along SLEB's greedy order.</summary>
    Prune,

    /// <summary>A layer's attention or feed-forward dropped (<c>skipAttention</c>, <c>skipFeedForward</c>).</summary>
    SubLayer,

    /// <summary>Generated tokens run fewer steps than the prompt (<c>decodeDepth</c>).</summary>
    DecodeDepth,

    /// <summary>Exit points with a criterion whose threshold is calibrated.</summary>
    Exits,

    /// <summary>PABEE patience exits (no threshold: measured as they are).</summary>
    Patience,

    /// <summary>Cosine skip rules with a calibrated threshold.</summary>
    Skip,

    /// <summary>A static candidate that met the target with the best exits added and calibrated again.</summary>
    Combined,
}

/// <summary>How a candidate's free parameter is set before it is measured.</summary>
public enum CandidateCalibration
{
    /// <summary>Nothing to set: its agreement is measured and tested once against the target.</summary>
    None,

    /// <summary>Every exit threshold by one strictness (<see cref="Calibration.PlanCalibrator"/>).</summary>
    ExitStrictness,

    /// <summary>Every skip rule's cosine threshold, strict to loose, by fixed-sequence testing.</summary>
    SkipThreshold,
}

/// <summary>A plan to try: its file-safe name, what it does in words, the plan (thresholds not yet set), and how they are set.</summary>
public sealed record PlanCandidate(string Name, CandidateKind Kind, string What, LayerPlan Plan, CandidateCalibration Calibration);

/// <summary>
/// A candidate's quality on the calibration trace: teacher-forced disagreements with the full model's greedy token at
/// <see cref="Positions"/> generated positions, the steps a token ran, the p-value of "disagreement rate above
/// 1 − target" and whether it was rejected at δ (<see cref="Certified"/>), and the threshold calibration chose.
/// </summary>
public sealed record CandidateQuality(long Positions, long Disagreements, double MeanSteps, double PValue, bool Certified, string Setting)
{
    public double Agreement => Positions == 0 ? double.NaN : 1 - (double)Disagreements / Positions;
}

/// <summary>
/// Decode speed of a candidate against the full model, both measured by <see cref="Engine"/> ("generated" or
/// "reference"), interleaved in one run. <see cref="Note"/> says why a candidate was measured by another engine.
/// </summary>
public sealed record CandidateSpeed(double Speedup, double PlanTokensPerSecond, double FullTokensPerSecond, string Engine, string? Note = null);

/// <summary>A candidate after measurement: the plan with its thresholds set (null when none could be certified).</summary>
public sealed record MeasuredCandidate(PlanCandidate Candidate, LayerPlan? Plan, CandidateQuality? Quality, CandidateSpeed? Speed)
{
    /// <summary>Measured for both speed and quality: a point the front is drawn from.</summary>
    public bool IsPoint => Plan is not null && Quality is not null && Speed is not null && double.IsFinite(Speed.Speedup);
}
