using SpecializedInfer.Engine;
using SpecializedInfer.Learning.Calibration;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Tests.Evaluation;
using SpecializedInfer.Tracing;

namespace SpecializedInfer.Tests.Learning;

/// <summary>
/// si calibrate's procedure on stories260K: every thresholded criterion, the fixed-sequence stop, the record, the written
/// plan reproducing its own count when run from its file, and the calibrated agreement holding on held-out prompts.
/// </summary>
public sealed class CalibrationTests : IDisposable
{
    private readonly EvaluationFiles _files = new();
    private static readonly CalibrationFile Model = new("stories260K.gguf", new string('a', 64));
    private static readonly CalibrationFile[] Data = [new("prompts.txt", new string('b', 64))];

    private (CalibrationResult Result, LoadedPlan Plan, TeacherForcedTrace Trace) Calibrate(string planJson, IEnumerable<string> prompts, int count, double target, int grid)
    {
        var plan = PlanLoader.Load(_files.Plan(planJson));
        using var weights = LlamaWeights.Load(LearningData.Stories);
        using var full = new ReferenceEngine(weights);
        var trace = LearningData.Greedy(full, prompts, count);
        var result = PlanCalibrator.Calibrate(weights, plan.Plan, plan.Manifest, trace, count, new CalibrationTarget(target, 0.05, grid), Model, Data);
        return (result, plan, trace);
    }

    [Theory]
    [InlineData("\"exits\": [ { \"afterStep\": 3, \"criterion\": \"maxProbability\", \"threshold\": 0.5 } ]")]
    [InlineData("\"exits\": [ { \"afterStep\": 3, \"criterion\": \"margin\", \"threshold\": 0.5 } ]")]
    [InlineData("\"exits\": [ { \"afterStep\": 3, \"criterion\": \"entropy\", \"threshold\": 0.5 } ]")]
    [InlineData("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"stateSaturation\", \"threshold\": 0.9 }, { \"afterStep\": 3, \"criterion\": \"stateSaturation\", \"threshold\": 0.9 } ]")]
    [InlineData("\"exits\": [ { \"afterStep\": 3, \"criterion\": \"learned\", \"threshold\": 0.5, \"probe\": \"PROBE\" } ], \"kvFill\": \"recompute\"")]
    public void Each_criterion_is_calibrated_and_the_written_plan_reproduces_its_record(string exits)
    {
        if (exits.Contains("PROBE"))
        {
            // A probe fitted on other prompts (ExitLearnerTests' trace of the first ten) for the exit after step 3.
            var probe = ExitLearnerTests.Fitted.Value.Learned.Exits[1].Probe;
            File.WriteAllText(Path.Combine(_files.Directory, "e.probe.json"), ProbeReader.Write(probe.Bias, probe.Weights));
            exits = exits.Replace("PROBE", "e.probe.json");
        }
        var (result, loaded, trace) = Calibrate(exits, LearningData.Prompts.Skip(12).Take(12), 48, 0.95, 40);
        var test = result.Test;
        var critical = BinomialTail.CriticalCount(trace.Count, 0.05, 0.05);
        Assert.Equal(critical, test.CriticalCount);

        // Fixed-sequence testing: strict to loose, every tested candidate but the last certified, the last one not.
        Assert.Equal(StrictnessScale.Grid(40).Take(test.Tested.Count), test.Tested.Select(t => t.Candidate));
        Assert.All(test.Tested.SkipLast(1), t => Assert.True(t.Rejected && t.Disagreements <= critical));
        var last = test.Tested[^1];
        Assert.False(last.Rejected);
        Assert.True(last.Disagreements > critical);
        var chosen = Assert.IsType<CandidateOutcome<double>>(result.Chosen);
        Assert.Equal(test.Tested[^2], chosen);
        Assert.True(chosen.Candidate < 1, "the strictest setting only: calibration found no room at all");

        // The record, and the thresholds strictness sets.
        var plan = result.Plan!;
        var c = plan.Calibration!;
        Assert.Equal((0.95, 0.05, trace.Count, chosen.Disagreements, chosen.Candidate, 40, 48), (c.TargetAgreement, c.Delta, c.Tokens, c.Disagreements, c.Strictness, c.GridSteps, c.TokensPerPrompt));
        Assert.Equal(BinomialTail.PValue(c.Disagreements, c.Tokens, 0.05), c.PValue);
        Assert.True(c.Agreement >= 0.95);
        foreach (var e in plan.Exits)
            Assert.Equal(e.Criterion == ExitCriterion.Entropy ? Math.Round((1 - chosen.Candidate) * Math.Log(512), 12) : chosen.Candidate, e.Threshold);

        // Written, read back and run from its file, the plan disagrees exactly as often as the record says.
        var path = Path.Combine(_files.Directory, "calibrated.plan.json");
        File.WriteAllText(path, PlanWriter.ToJson(plan));
        var reread = PlanLoader.Load(path);
        Assert.Equal(plan, reread.Plan);
        Assert.Equal(loaded.Plan.KvFill, reread.Plan.KvFill);
        using var engine = ReferenceEngine.Load(LearningData.Stories, path);
        var replay = TraceReplay.Run(engine, trace);
        Assert.Equal((c.Tokens, c.Disagreements), ((int)replay.Positions, (int)replay.Disagreements));
    }

    [Fact]
    public void The_calibrated_agreement_holds_on_held_out_prompts()
    {
        // Calibrate on the first half of the evaluation prompts, measure on the other half.
        const string exits = "\"exits\": [ { \"afterStep\": 3, \"criterion\": \"maxProbability\", \"threshold\": 0.9 } ]";
        var (result, _, _) = Calibrate(exits, LearningData.Prompts.Take(24), 64, 0.95, 100);
        var plan = result.Plan!;
        var path = Path.Combine(_files.Directory, "held.plan.json");
        File.WriteAllText(path, PlanWriter.ToJson(plan));
        using var full = ReferenceEngine.Load(LearningData.Stories);
        using var engine = ReferenceEngine.Load(LearningData.Stories, path);
        var heldOut = TraceReplay.Run(engine, LearningData.Greedy(full, LearningData.Prompts.Skip(24), 64));
        Assert.True(heldOut.Agreement >= 0.95, $"held-out agreement {heldOut.Agreement:F4} below the target (strictness {plan.Calibration!.Strictness})");
        Assert.True(heldOut.ExitFraction > 0.05, "the calibrated plan hardly exits: the test shows nothing");
    }

    [Fact]
    public void Plans_without_thresholds_to_set_are_refused()
    {
        var patience = PlanLoader.Load(_files.Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.9 }, { \"afterStep\": 2, \"criterion\": \"patience\", \"patience\": 2 } ]"));
        Assert.Contains("calibration sets the thresholds of maxProbability", Assert.Throws<ArgumentException>(() => PlanCalibrator.CheckCalibratable(patience.Plan)).Message);
        Assert.Contains("no exits", Assert.Throws<ArgumentException>(() => PlanCalibrator.CheckCalibratable(PlanLoader.Load(_files.Plan()).Plan)).Message);
    }

    [Fact]
    public void Strictness_maps_to_each_criterions_threshold()
    {
        Assert.Equal([1.0, 0.75, 0.5, 0.25, 0.0], StrictnessScale.Grid(4));
        Assert.Equal(0.8, StrictnessScale.Threshold(ExitCriterion.MaxProbability, 0.8, 512));
        Assert.Equal(0.8, StrictnessScale.Threshold(ExitCriterion.StateSaturation, 0.8, 512));
        Assert.Equal(0.2 * Math.Log(512), StrictnessScale.Threshold(ExitCriterion.Entropy, 0.8, 512), 12);
        Assert.Equal(0, StrictnessScale.Threshold(ExitCriterion.Entropy, 1, 512));
        Assert.Throws<ArgumentException>(() => StrictnessScale.Threshold(ExitCriterion.Patience, 0.5, 512));
    }

    public void Dispose() => _files.Dispose();
}
