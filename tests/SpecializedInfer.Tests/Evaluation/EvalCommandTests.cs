using System.Text.Json;
using SpecializedInfer.Cli;

namespace SpecializedInfer.Tests.Evaluation;

/// <summary><c>si eval</c> run in-process: the table, the JSON report and the exit codes.</summary>
public sealed class EvalCommandTests : IDisposable
{
    private readonly EvaluationFiles _files = new();

    private static (int Code, string Out, string Err) Si(params string[] args) => Cli.Si.Run(args);

    private string Prompts => _files.File("prompts.txt", string.Join("\n", EvaluationFiles.Prompts) + "\n\n");
    private string Text => _files.File("text.txt", EvaluationFiles.Text);

    [Fact]
    public void Eval_prints_the_table_and_writes_json()
    {
        var plan = _files.Plan("\"exits\": [ { \"afterStep\": 2, \"criterion\": \"maxProbability\", \"threshold\": 0.5 } ]");
        var json = Path.Combine(_files.Directory, "report.json");
        var (code, text, err) = Si("eval", "--model", EvaluationFiles.Stories, "--plan", plan, "--prompts", Prompts,
            "--text", Text, "-n", "16", "--window", "12", "--json", json);

        Assert.True(code == ExitCodes.Success, err);
        Assert.Contains("3 prompts", text);
        Assert.Contains("48 teacher-forced positions", text);
        foreach (var metric in new[] { "agreement, teacher-forced", "mean KL(full || plan)", "identical tokens, free-running",
                     "mean identical prefix", "perplexity", "decode tokens/s", "steps per generated token", "exits after step 2 (max p ≥ 0.5)" })
            Assert.Contains(metric, text);
        Assert.Contains($"wrote {json}", err);

        using var report = JsonDocument.Parse(File.ReadAllBytes(json));
        var root = report.RootElement;
        Assert.Equal(3, root.GetProperty("promptCount").GetInt32());
        var tf = root.GetProperty("teacherForced");
        Assert.Equal(48, tf.GetProperty("positions").GetInt64());
        Assert.Equal(tf.GetProperty("agreements").GetInt64() / 48.0, tf.GetProperty("agreement").GetDouble(), 12);
        Assert.True(tf.GetProperty("meanKl").GetDouble() >= 0);
        var ppl = root.GetProperty("perplexity");
        Assert.Equal(12, ppl.GetProperty("window").GetInt32());
        Assert.True(ppl.GetProperty("full").GetDouble() > 1 && ppl.GetProperty("plan").GetDouble() > 1);
        Assert.Equal(3 * 15, root.GetProperty("speed").GetProperty("plan").GetProperty("decodeSteps").GetInt64());
        Assert.True(root.GetProperty("speed").GetProperty("full").GetProperty("tokensPerSecond").GetDouble() > 0);
        var depth = root.GetProperty("planDepth");
        Assert.Equal(45, depth.GetProperty("generatedTokens").GetInt64());
        var exit = Assert.Single(depth.GetProperty("exits").EnumerateArray().ToList());
        Assert.Equal(2, exit.GetProperty("afterStep").GetInt32());
        Assert.Equal(depth.GetProperty("stepsHistogram")[3].GetInt64(), exit.GetProperty("tokens").GetInt64());
    }

    [Fact]
    public void The_full_plan_measures_as_the_model()
    {
        var json = Path.Combine(_files.Directory, "full.json");
        var (code, text, err) = Si("eval", "--model", EvaluationFiles.Stories, "--plan", _files.Plan(), "--prompts", Prompts, "-n", "8", "--json", json);
        Assert.True(code == ExitCodes.Success, err);
        Assert.DoesNotContain("perplexity", text);
        using var report = JsonDocument.Parse(File.ReadAllBytes(json));
        Assert.Equal(1.0, report.RootElement.GetProperty("teacherForced").GetProperty("agreement").GetDouble());
        Assert.Equal(0.0, report.RootElement.GetProperty("teacherForced").GetProperty("meanKl").GetDouble());
        Assert.Equal(1.0, report.RootElement.GetProperty("freeRunning").GetProperty("identicalFraction").GetDouble());
        Assert.Equal(JsonValueKind.Null, report.RootElement.GetProperty("perplexity").ValueKind);
    }

    [Fact]
    public void Several_plans_give_one_summary_row_each_with_what_they_did()
    {
        var exits = _files.Plan("\"exits\": [ { \"afterStep\": 2, \"criterion\": \"maxProbability\", \"threshold\": 0 } ]");
        var full = _files.Plan();
        var (code, text, err) = Si("eval", "--model", EvaluationFiles.Stories, "--plan", full, "--plan", exits, "--prompts", Prompts, "-n", "8", "--markdown");
        Assert.True(code == ExitCodes.Success, err);
        var rows = text.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, rows.Count); // header and two plans
        var fullCells = rows[1].Split(" | ");
        Assert.Equal("5.00", fullCells[2]);
        Assert.Equal("1.0000", fullCells[3]);
        var exitCells = rows[2].Split(" | ");
        Assert.Equal("3.00", exitCells[2]); // threshold 0: every generated token leaves after step 2
        Assert.Contains("exits 100%", rows[2]);
    }

    [Fact]
    public void A_lossless_plan_generates_the_full_models_tokens_by_drafting()
    {
        var lossless = _files.Plan("\"kvFill\": \"lossless\", \"speculation\": { \"draftSteps\": 3, \"draftTokens\": 4 }");
        var json = Path.Combine(_files.Directory, "lossless.json");
        var (code, text, err) = Si("eval", "--model", EvaluationFiles.Stories, "--plan", lossless, "--prompts", Prompts, "-n", "24", "--json", json);
        Assert.True(code == ExitCodes.Success, err);
        Assert.Contains("drafted tokens, accepted", text);
        using var report = JsonDocument.Parse(File.ReadAllBytes(json));
        var root = report.RootElement;
        Assert.Equal(1.0, root.GetProperty("teacherForced").GetProperty("agreement").GetDouble());
        Assert.Equal(1.0, root.GetProperty("freeRunning").GetProperty("identicalFraction").GetDouble());
        var depth = root.GetProperty("planDepth");
        Assert.True(depth.GetProperty("draftedTokens").GetInt64() > 0);
        Assert.True(depth.GetProperty("verificationPasses").GetInt64() > 0);
        // Every generated position is confirmed by a verification: the confirmed token of a pass or an accepted draft.
        Assert.Equal(depth.GetProperty("generatedTokens").GetInt64(),
            depth.GetProperty("verificationPasses").GetInt64() + depth.GetProperty("acceptedDrafts").GetInt64());
    }

    [Theory]
    [InlineData("eval --model m.gguf --plan a.plan.json --plan b.plan.json --prompts p.txt --json out.json")]
    [InlineData("eval --model m.gguf --plan a.plan.json --prompts p.txt --markdown")]
    [InlineData("eval")]
    [InlineData("eval --model m.gguf --prompts p.txt")]
    [InlineData("eval --model m.gguf --plan p.plan.json")]
    [InlineData("eval --plan p.plan.json --prompts p.txt")]
    [InlineData("eval --model m.gguf --plan p.plan.json --prompts p.txt -n 0")]
    [InlineData("eval --model m.gguf --plan p.plan.json --prompts p.txt -n lots")]
    [InlineData("eval --model m.gguf --plan p.plan.json --prompts p.txt --window 1")]
    [InlineData("eval --model m.gguf --plan p.plan.json --prompts p.txt --temp 0.5")]
    [InlineData("eval --model m.gguf --plan p.plan.json --prompts p.txt extra")]
    [InlineData("eval --model m.gguf --plan p.plan.json --prompts p.txt --json")]
    public void Usage_errors_exit_2(string commandLine)
    {
        var (code, _, err) = Si(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("usage: si eval", err);
    }

    [Fact]
    public void Bad_files_exit_1_naming_the_file()
    {
        var plan = _files.Plan();
        var missing = Path.Combine(_files.Directory, "absent.txt");
        var empty = _files.File("empty.txt", "\n  \n");
        var badPlan = _files.File("bad.plan.json", "{ \"manifest\": \"stories260K.model.json\", \"prune\": [9] }");
        string[][] cases =
        [
            ["--plan", plan, "--prompts", missing],
            ["--plan", plan, "--prompts", empty],
            ["--plan", plan, "--prompts", Prompts, "--text", empty],
            ["--plan", badPlan, "--prompts", Prompts],
            ["--plan", plan, "--prompts", Prompts, "--json", Path.Combine(_files.Directory, "no", "such", "dir", "r.json")],
        ];
        foreach (var rest in cases)
        {
            var (code, _, err) = Si(["eval", "--model", EvaluationFiles.Stories, .. rest]);
            Assert.True(code == ExitCodes.Failure, $"{string.Join(' ', rest)}: exit {code}, {err}");
            Assert.StartsWith("error: ", err);
        }
        Assert.Contains("absent.txt", Si(["eval", "--model", EvaluationFiles.Stories, .. cases[0]]).Err);
        Assert.Contains("bad.plan.json", Si(["eval", "--model", EvaluationFiles.Stories, .. cases[3]]).Err);
    }

    [Fact]
    public void Prompt_and_text_files_are_read_within_a_bound_naming_the_file()
    {
        var plan = _files.Plan();
        // A device declares no length and never ends; a file past the bound is refused by its length, unread.
        var huge = _files.File("huge.txt", "");
        using (var stream = File.OpenWrite(huge)) stream.SetLength(SpecializedInfer.Cli.Commands.EvalCommand.MaxInputBytes + 1);
        (string[] Args, string Says)[] cases =
        [
            (["--prompts", "/dev/zero"], "/dev/zero (given to --prompts) is not a regular file"),
            (["--prompts", Prompts, "--text", "/dev/zero"], "/dev/zero (given to --text) is not a regular file"),
            (["--prompts", huge], $"{huge} (given to --prompts) is 16,777,217 bytes; si eval reads prompt and text files of at most 16 MiB."),
        ];
        foreach (var (args, says) in cases)
        {
            if (args.Contains("/dev/zero") && !File.Exists("/dev/zero")) continue;
            var (code, _, err) = Si(["eval", "--model", EvaluationFiles.Stories, "--plan", plan, .. args]);
            Assert.Equal(ExitCodes.Failure, code);
            Assert.StartsWith($"error: {says}", err);
            Assert.Single(err.TrimEnd().Split('\n'));
        }
    }

    [Fact]
    public void The_command_is_listed_with_its_help()
    {
        Assert.Contains("eval", Si("--help").Out);
        var (code, text, _) = Si("eval", "--help");
        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("--prompts", text);
    }

    public void Dispose() => _files.Dispose();
}
