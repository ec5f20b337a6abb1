using System.Collections.Generic;

namespace SpecializedInfer.Planning;

/// <summary>A file a calibration read, named as written and identified by the SHA-256 of its bytes (lowercase hex).</summary>
public sealed record CalibrationFile(string File, string Sha256);

/// <summary>
/// How a plan's exit thresholds were chosen (<c>si calibrate</c>): Learn-then-Test with fixed-sequence testing of the
/// exact binomial p-value of H0 "the disagreement rate exceeds 1 − <see cref="TargetAgreement"/>" at level
/// <see cref="Delta"/>, on <see cref="Tokens"/> teacher-forced generated tokens of which <see cref="Disagreements"/>
/// differed from the full model's greedy token. <see cref="Strictness"/> is the scalar that set every exit's threshold,
/// chosen on a grid of <see cref="GridSteps"/> steps; the tokens are the full model's greedy continuations, at most
/// <see cref="TokensPerPrompt"/> per prompt, of the prompts in <see cref="Data"/>.
/// A record only: executors ignore it, the plan reader checks it is complete and consistent.
/// </summary>
public sealed record PlanCalibration(
    string Method,
    double TargetAgreement,
    double Delta,
    int Tokens,
    int Disagreements,
    double Agreement,
    double PValue,
    double Strictness,
    int GridSteps,
    int TokensPerPrompt,
    CalibrationFile Model,
    IReadOnlyList<CalibrationFile> Data)
{
    private readonly EquatableArray<CalibrationFile> _data = Data.ToEquatableArray();

    public IReadOnlyList<CalibrationFile> Data { get => _data; init => _data = value.ToEquatableArray(); }

    /// <summary>The one method written so far.</summary>
    public const string LearnThenTest = "learn-then-test";
}
