using System.Globalization;
using System.Security.Cryptography;
using SpecializedInfer.Engine;
using SpecializedInfer.Evaluation;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Tracing;

namespace SpecializedInfer.Learning.Calibration;

/// <summary>What to guarantee: agreement at least <see cref="TargetAgreement"/> with probability at least 1 − <see cref="Delta"/>.</summary>
public sealed record CalibrationTarget(double TargetAgreement, double Delta, int GridSteps = 200)
{
    public void Validate()
    {
        if (!(TargetAgreement > 0 && TargetAgreement < 1))
            throw new ArgumentOutOfRangeException(string.Create(CultureInfo.InvariantCulture, $"The target agreement must be above 0 and below 1, not {TargetAgreement}."), innerException: null);
        if (!(Delta > 0 && Delta < 1)) throw new ArgumentOutOfRangeException(string.Create(CultureInfo.InvariantCulture, $"δ must be above 0 and below 1, not {Delta}."), innerException: null);
        if (GridSteps < 1) throw new ArgumentOutOfRangeException($"The grid needs at least one step, not {GridSteps}.", innerException: null);
    }

    /// <summary>The disagreement rate H0 says is exceeded: 1 − target.</summary>
    public double MaxDisagreementRate => 1 - TargetAgreement;
}

/// <summary>
/// The outcome: every tested strictness with its replay, and (when some strictness was certified) the plan with its
/// thresholds and the calibration record.
/// </summary>
public sealed record CalibrationResult(
    FixedSequenceResult<double> Test,
    IReadOnlyDictionary<double, ReplayResult> Replays,
    LayerPlan? Plan)
{
    public CandidateOutcome<double>? Chosen => Test.Chosen;
}

/// <summary>
/// Picks a plan's exit thresholds with a guarantee (CALM's Learn-then-Test, see <see cref="FixedSequenceTest"/>): the
/// candidates are the strictness grid of <see cref="StrictnessScale"/>, each measured by replaying the calibration
/// trace through the plan as it runs (<see cref="TraceReplay"/>: the reference engine with that strictness, KV
/// strategy, skips and exit heads included) and counting the generated tokens whose greedy token differs from the full
/// model's.
/// </summary>
public static class PlanCalibrator
{
    // tokensPerPrompt: the continuation length the trace was made with, kept in the record.
    public static CalibrationResult Calibrate(LlamaWeights weights, LayerPlan plan, ModelManifest manifest, TeacherForcedTrace trace, int tokensPerPrompt,
        CalibrationTarget target, CalibrationFile model, IReadOnlyList<CalibrationFile> data, IProgress<EvaluationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(target);
        target.Validate();
        CheckCalibratable(plan);
        var vocab = weights.Config.VocabSize;
        var grid = StrictnessScale.Grid(target.GridSteps).ToList();
        var replays = new Dictionary<double, ReplayResult>();
        var tested = 0;
        var test = FixedSequenceTest.Run(grid, trace.Count, target.MaxDisagreementRate, target.Delta, (s, critical) =>
        {
            var candidate = StrictnessScale.Apply(plan, s, vocab);
            using var engine = new ReferenceEngine(weights, ExecutionSchedule.Resolve(candidate, manifest));
            var replay = TraceReplay.Run(engine, trace, stopAfterDisagreements: critical);
            replays[s] = replay;
            progress?.Report(new EvaluationProgress("candidates", ++tested, grid.Count));
            return checked((int)replay.Disagreements);
        });
        if (test.Chosen is not { } chosen) return new CalibrationResult(test, replays, null);
        var calibrated = StrictnessScale.Apply(plan, chosen.Candidate, vocab) with
        {
            Calibration = new PlanCalibration(PlanCalibration.LearnThenTest, target.TargetAgreement, target.Delta,
                chosen.Tokens, chosen.Disagreements, 1 - (double)chosen.Disagreements / chosen.Tokens, chosen.PValue,
                chosen.Candidate, target.GridSteps, tokensPerPrompt, model, data.ToArray()),
        };
        return new CalibrationResult(test, replays, calibrated);
    }

    /// <summary>Refuses plans whose exits have no single threshold, or that have no exit at all.</summary>
    public static void CheckCalibratable(LayerPlan plan)
    {
        if (plan.Exits.Count == 0) throw new ArgumentException("The plan has no exits, so there are no thresholds to calibrate.");
        foreach (var e in plan.Exits)
            if (!StrictnessScale.Calibrates(e.Criterion))
                throw new ArgumentException(
                    $"The exit after step {e.AfterStep} tests {e.Test.Describe()}; calibration sets the thresholds of maxProbability, margin, entropy, stateSaturation and learned exits only.");
    }

    /// <summary>A file named as given, with the SHA-256 of its bytes.</summary>
    public static CalibrationFile Describe(string path, string? name = null)
    {
        using var stream = File.OpenRead(path);
        return new CalibrationFile(name ?? Path.GetFileName(path), Convert.ToHexStringLower(SHA256.HashData(stream)));
    }
}
