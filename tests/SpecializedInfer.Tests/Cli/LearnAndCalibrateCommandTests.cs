using SpecializedInfer.Cli;
using SpecializedInfer.Planning;
using SpecializedInfer.Tests.Evaluation;
using SpecializedInfer.Tests.Learning;

namespace SpecializedInfer.Tests.Cli;

/// <summary>si learn-exits and si calibrate in-process: the files they write run with si eval, and bad input is one error line.</summary>
public sealed class LearnAndCalibrateCommandTests : IDisposable
{
    private readonly EvaluationFiles _files = new();

    private string Prompts(int from, int count) => _files.File($"prompts{from}.txt", string.Join("\n", LearningData.Prompts.Skip(from).Take(count)) + "\n");

    [Fact]
    public void Learn_exits_writes_probes_heads_and_plans_that_si_eval_runs_and_si_calibrate_calibrates()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_files.Directory, "out")).FullName;
        var (code, text, err) = Si.Run("learn-exits", "--model", LearningData.Stories, "--exits", "3,1", "--prompts", Prompts(0, 10),
            "--text", _files.File("text.txt", EvaluationFiles.Text), "--output", dir, "-n", "24", "--samples", "1", "--seed", "9");
        Assert.True(code == ExitCodes.Success, err);
        Assert.Contains("held out", text);
        foreach (var file in new[] { "stories260K.model.json", "stories260K.exit-heads.gguf", "stories260K.exit1.probe.json", "stories260K.exit3.head.probe.json",
                     "stories260K.learned.plan.json", "stories260K.heads.plan.json", "learn-exits.json" })
        {
            Assert.True(File.Exists(Path.Combine(dir, file)), file);
            Assert.Contains($"wrote {Path.Combine(dir, file)}", err);
        }
        Assert.Empty(Directory.GetFiles(dir, "*.tmp*"));

        var heads = Path.Combine(dir, "stories260K.heads.plan.json");
        var plan = PlanLoader.Load(heads);
        Assert.Equal([1, 3], plan.Plan.Exits.Select(e => e.AfterStep));
        Assert.All(plan.Plan.Exits, e => Assert.Equal((ExitCriterion.Learned, 0.9), (e.Criterion, e.Threshold)));
        Assert.Equal("exit.3.output.weight", plan.Plan.Exits[1].Head!.Output);

        var evalPrompts = Prompts(40, 2);
        var model = Path.Combine(dir, "stories260K.exit-heads.gguf");
        (code, text, err) = Si.Run("eval", "--model", model, "--plan", heads, "--plan", Path.Combine(dir, "stories260K.learned.plan.json"),
            "--prompts", evalPrompts, "-n", "16");
        Assert.True(code == ExitCodes.Success, err);
        Assert.Contains("stories260K.heads", text);

        var calibrated = Path.Combine(_files.Directory, "calibrated.plan.json");
        (code, text, err) = Si.Run("calibrate", "--model", model, "--plan", heads, "--target-agreement", "0.9", "--delta", "0.1",
            "--prompts", Prompts(10, 10), "-n", "32", "--grid", "20", "--output", calibrated);
        Assert.True(code == ExitCodes.Success, err);
        Assert.Contains("chosen strictness", text);
        var read = PlanLoader.Load(calibrated);
        Assert.Equal("out/stories260K.model.json", read.Plan.Manifest);
        Assert.Equal("out/stories260K.exit1.head.probe.json", read.Plan.Exits[0].Test.Probe);
        var c = read.Plan.Calibration!;
        Assert.Equal((0.9, 0.1, 20, 32), (c.TargetAgreement, c.Delta, c.GridSteps, c.TokensPerPrompt));
        Assert.Equal(SpecializedInfer.Learning.Calibration.PlanCalibrator.Describe(model).Sha256, c.Model.Sha256);
        Assert.Equal("prompts10.txt", Assert.Single(c.Data).File);
    }

    [Fact]
    public void Calibrate_without_output_prints_the_plan_and_reports_on_standard_error()
    {
        var plan = _files.Plan("\"exits\": [ { \"afterStep\": 3, \"criterion\": \"maxProbability\", \"threshold\": 0.9 } ]");
        var (code, text, err) = Si.Run("calibrate", "--model", LearningData.Stories, "--plan", plan, "--target-agreement", "0.9",
            "--prompts", Prompts(0, 8), "-n", "32", "--grid", "20");
        Assert.True(code == ExitCodes.Success, err);
        Assert.Contains("chosen strictness", err);
        var read = PlanReader.Read(text, "x.plan.json", manifest: null);
        Assert.Empty(read.Problems);
        Assert.Equal("stories260K.model.json", read.Plan!.Manifest);
        Assert.NotNull(read.Plan.Calibration);
    }

    [Theory]
    [InlineData("learn-exits", "--exits 4", "exits go after steps 0 to 3")]
    [InlineData("calibrate", "--target-agreement 0.999 -n 8", "no threshold can be certified")]
    [InlineData("calibrate", "--patience", "calibration sets the thresholds of maxProbability")]
    public void Bad_input_is_one_error_line_and_exit_1(string command, string extra, string message)
    {
        var args = new List<string> { command, "--model", LearningData.Stories, "--prompts", Prompts(0, 6) };
        if (command == "learn-exits") args.AddRange(["--output", _files.Directory]);
        else args.AddRange(["--plan", _files.Plan(extra == "--patience"
            ? "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.9 }, { \"afterStep\": 2, \"criterion\": \"patience\", \"patience\": 2 } ]"
            : "\"exits\": [ { \"afterStep\": 3, \"criterion\": \"maxProbability\", \"threshold\": 0.9 } ]")]);
        if (extra != "--patience") args.AddRange(extra.Split(' '));
        var (code, _, err) = Si.Run([.. args]);
        Assert.Equal(ExitCodes.Failure, code);
        var errorLines = err.Split('\n').Where(l => l.StartsWith("error:")).ToList();
        Assert.Contains(message, Assert.Single(errorLines));
        Assert.DoesNotContain("   at ", err);
    }

    [Theory]
    [InlineData("learn-exits --exits 1,x", "Option --exits takes distinct whole numbers")]
    [InlineData("learn-exits --exits 1,1", "Option --exits takes distinct whole numbers")]
    [InlineData("calibrate --target-agreement 1", "Option --target-agreement takes a number above 0 and below 1, got '1'")]
    [InlineData("calibrate --delta 0", "Option --delta takes a number above 0 and below 1, got '0'")]
    public void Bad_values_are_usage_errors(string args, string message)
    {
        var (code, _, err) = Si.Run([.. args.Split(' '), "--model", "m.gguf", "--prompts", "p.txt", "--output", "d", "--plan", "p.plan.json"]);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(message, err);
    }

    public void Dispose() => _files.Dispose();
}
