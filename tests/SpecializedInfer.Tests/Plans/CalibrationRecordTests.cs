using SpecializedInfer.Planning;

namespace SpecializedInfer.Tests.Plans;

/// <summary>
/// The plan's <c>calibration</c> record: read into <see cref="LayerPlan.Calibration"/>, ignored by the schedule, and
/// every inconsistency reported at its value (SI0038 and the generic JSON checks).
/// </summary>
public sealed class CalibrationRecordTests
{
    private static readonly ModelManifest Stories = ManifestReader.Read(
        File.ReadAllText(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json")), "stories260K.model.json").Manifest!;

    private const string Sha = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

    private static string Plan(string record) => """
        {
          "manifest": "stories260K.model.json",
          "exits": [ { "afterStep": 3, "criterion": "maxProbability", "threshold": 0.935 } ],
          "calibration": {
        """ + record + "\n  }\n}";

    private const string Valid = """
            "method": "learn-then-test", "targetAgreement": 0.99, "delta": 0.05,
            "tokens": 1000, "disagreements": 5, "agreement": 0.995, "pValue": 0.0123,
            "strictness": 0.935, "gridSteps": 200, "tokensPerPrompt": 256,
            "model": { "file": "stories260K.gguf", "sha256": "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d" },
            "data": [ { "file": "cal.txt", "sha256": "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d" } ]
        """;

    [Fact]
    public void A_valid_record_is_read_and_changes_nothing_in_the_schedule()
    {
        var result = PlanReader.Read(Plan(Valid), "c.plan.json", Stories);
        Assert.Empty(result.Problems);
        var c = result.Plan!.Calibration!;
        Assert.Equal(new PlanCalibration("learn-then-test", 0.99, 0.05, 1000, 5, 0.995, 0.0123, 0.935, 200, 256,
            new CalibrationFile("stories260K.gguf", Sha), new[] { new CalibrationFile("cal.txt", Sha) }.ToEquatableArray()), c);
        var without = result.Plan with { Calibration = null };
        Assert.Equal(ExecutionSchedule.Resolve(without, Stories), ExecutionSchedule.Resolve(result.Plan, Stories));
    }

    [Theory]
    [InlineData("\"agreement\": 0.995", "\"agreement\": 0.9", "SI0038", "0.9,", "'agreement' must be 1 − disagreements / tokens = 0.995, found 0.9")]
    [InlineData("\"pValue\": 0.0123", "\"pValue\": 0.2", "SI0038", "0.2", "A p-value of 0.2 is above delta 0.05")]
    [InlineData("\"disagreements\": 5", "\"disagreements\": 1001", "SI0038", "1001", "'disagreements' (1001) cannot exceed 'tokens' (1000)")]
    [InlineData("\"delta\": 0.05", "\"delta\": 1", "SI0038", "1,", "'delta' must be above 0 and below 1, found 1")]
    [InlineData("\"targetAgreement\": 0.99", "\"targetAgreement\": 0", "SI0038", "0,", "'targetAgreement' must be above 0 and below 1, found 0")]
    [InlineData("\"strictness\": 0.935", "\"strictness\": 1.5", "SI0038", "1.5", "'strictness' must be between 0 and 1, found 1.5")]
    [InlineData("\"tokens\": 1000", "\"tokens\": 0", "SI0038", "0,", "'tokens' must be between 1 and")]
    [InlineData("\"gridSteps\": 200", "\"gridSteps\": 2.5", "SI0004", "2.5", "'gridSteps' must be a whole number")]
    [InlineData("\"method\": \"learn-then-test\"", "\"method\": \"bonferroni\"", "SI0033", "\"bonferroni\"", "'method' must be 'learn-then-test'")]
    [InlineData("\"tokensPerPrompt\": 256,", "", "SI0003", "{", "The calibration record needs the property 'tokensPerPrompt'")]
    [InlineData("\"strictness\"", "\"strictnes\"", "SI0002", "\"strictnes\"", "did you mean 'strictness'?")]
    [InlineData("\"data\": [ {", "\"data\": [ ], \"x\": [ {", "SI0038", "[ ]", "'data' must name at least one file")]
    [InlineData("\"sha256\": \"270c", "\"sha256\": \"Z70c", "SI0038", "\"Z70c", "'sha256' must be 64 lowercase hexadecimal digits")]
    public void A_broken_record_is_reported_at_its_value(string from, string to, string id, string marker, string message)
    {
        var text = Plan(Valid.Replace(from, to));
        Assert.NotEqual(Plan(Valid), text);
        var result = PlanReader.Read(text, "c.plan.json", Stories);
        Assert.Null(result.Plan);
        var problem = Assert.Single(result.Problems, p => p.Id == id);
        Assert.Contains(message, problem.Message);
        var offset = marker == "{" ? text.IndexOf("\"calibration\": {", StringComparison.Ordinal) + "\"calibration\": ".Length : text.IndexOf(marker, StringComparison.Ordinal);
        Assert.Equal(offset, problem.Range.Start);
    }

    [Fact]
    public void The_plan_writer_round_trips_every_repository_plan_and_a_calibrated_one()
    {
        var folders = new[]
        {
            ReferencePlanExecutionTests.RepositoryModels,
            Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "eval", "plans"),
            Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "..", "tests", "SpecializedInfer.Generator.Tests", "Plans"),
        };
        var plans = folders.SelectMany(f => Directory.GetFiles(f, "*.plan.json")).ToList();
        Assert.True(plans.Count > 60);
        var texts = plans.Select(File.ReadAllText).Append(Plan(Valid)).ToList();
        foreach (var text in texts)
        {
            var plan = PlanReader.Read(text, "p.plan.json", manifest: null).Plan!;
            var written = PlanWriter.ToJson(plan, "a \"quoted\" description");
            var again = PlanReader.Read(written, "p.plan.json", manifest: null);
            Assert.DoesNotContain(again.Problems, p => p.Severity == ProblemSeverity.Error);
            Assert.Equal(PlanReader.Read(text, "p.plan.json", manifest: null).Problems.Count(p => p.Severity == ProblemSeverity.Warning),
                again.Problems.Count(p => p.Severity == ProblemSeverity.Warning));
            Assert.Equal(plan, again.Plan);
            Assert.Equal(written, PlanWriter.ToJson(again.Plan!, "a \"quoted\" description"));
        }
    }

    [Fact]
    public void Rebase_makes_the_manifest_and_probes_relative_to_the_new_folder()
    {
        var plan = new LayerPlan
        {
            Manifest = "stories260K.model.json",
            Exits = new[] { new ExitPoint(1, ExitTest.OfLearned("probes/e1.probe.json", 0.8)), new ExitPoint(2, ExitTest.OfEnsemble(1, ExitTest.OfLearned("e2.probe.json", 0.5))) }.ToEquatableArray(),
            Skip = new[] { new SkipRule(3, SkipTest.Learned, 0.9, "e2.probe.json") }.ToEquatableArray(),
        };
        var moved = PlanWriter.Rebase(plan, "/data/models", "/data/out/calibrated");
        Assert.Equal("../../models/stories260K.model.json", moved.Manifest);
        Assert.Equal("../../models/probes/e1.probe.json", moved.Exits[0].Test.Probe);
        Assert.Equal("../../models/e2.probe.json", moved.Exits[1].Test.Members[0].Probe);
        Assert.Equal("../../models/e2.probe.json", moved.Skip[0].Probe);
    }
}
