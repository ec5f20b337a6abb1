using System.Text.Json;
using SpecializedInfer.Cli;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tests.Engines;
using SpecializedInfer.Tests.Plans;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Tests.Search;

/// <summary>
/// <c>si plan</c> on stories260K with a small budget: the plan it writes loads and runs, its held-out agreement as
/// reported is what a teacher-forced comparison written here computes with the reference engine, it was certified on
/// the calibration prompts, and the front it reports is the non-dominated set of its candidates.
/// </summary>
[Collection(GeneratedEngineFixture.Collection)]
public sealed class PlanCommandTests(GeneratedEngineFixture engines) : IDisposable
{
    private const double Target = 0.85;
    private const int Tokens = 32;
    private readonly string _dir = Directory.CreateTempSubdirectory("si-plan-").FullName;

    private static string Stories => ModelLocator.Find("stories260K.gguf");
    private static string Eval => Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "eval");

    private string Lines(string name, string source, int skip, int take)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, File.ReadAllLines(Path.Combine(Eval, source)).Where(l => l.Trim().Length > 0).Skip(skip).Take(take));
        return path;
    }

    [Fact]
    public void The_plan_found_runs_meets_its_reported_held_out_agreement_and_the_front_is_non_dominated()
    {
        var output = Directory.CreateDirectory(Path.Combine(_dir, "out")).FullName;
        var heldout = Lines("heldout.txt", "prompts.txt", 0, 4);
        var (code, text, err) = Cli.Si.RunCaching(engines.Cache, "plan", "--model", Stories, "--target-agreement", "0.85",
            "--prompts", Lines("cal.txt", "calibration-prompts.txt", 0, 12), "--heldout", heldout, "--budget", "5", "-n", Tokens.ToString(),
            "--grid", "20", "--speed-prompts", "2", "--output", output, "--plot", output);
        Assert.True(code == ExitCodes.Success, err);
        Assert.Contains("chosen: ", text);
        Assert.Contains("SLEB order: ", text);
        Assert.True(new FileInfo(Path.Combine(output, "stories260K.target85.pareto.png")).Length > 1000);

        using var search = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "stories260K.target85.search.json")));
        var candidates = search.RootElement.GetProperty("candidates").EnumerateArray().ToList();
        Assert.InRange(candidates.Count, 2, 6);                                     // the full model and at most --budget more
        var points = candidates.Where(c => c.TryGetProperty("speedup", out _))
            .Select(c => (Name: c.GetProperty("name").GetString()!, Speed: c.GetProperty("speedup").GetDouble(), Agreement: c.GetProperty("agreement").GetDouble(),
                OnFront: c.GetProperty("onFront").GetBoolean(), Certified: c.GetProperty("certified").GetBoolean())).ToList();
        // The front, checked here by its definition: on it exactly when no other point is at least as fast and as faithful and better in one.
        foreach (var p in points)
        {
            var dominated = points.Any(o => o.Speed >= p.Speed && o.Agreement >= p.Agreement && (o.Speed > p.Speed || o.Agreement > p.Agreement));
            if (p.OnFront) Assert.False(dominated, $"{p.Name} is on the front but dominated");
            else Assert.True(dominated || points.Any(o => o.OnFront && o.Speed == p.Speed && o.Agreement == p.Agreement), $"{p.Name} is off the front but not dominated");
        }
        var chosenName = search.RootElement.GetProperty("chosen").GetString();
        var chosen = points.Single(p => p.Name == chosenName);
        Assert.True(chosen.Certified);
        Assert.True(chosen.Agreement >= Target, $"{chosenName}: calibration agreement {chosen.Agreement}");
        Assert.Equal(points.Where(p => p.Certified).Max(p => p.Speed), chosen.Speed);   // the fastest certified one

        // The written plan loads, and runs on the reference engine.
        var planPath = Path.Combine(output, "stories260K.target85.plan.json");
        var plan = PlanLoader.Load(planPath);
        using var full = ReferenceEngine.Load(Stories);
        using var planned = ReferenceEngine.Load(Stories, planPath);
        LlamaTokenizer tokenizer;
        using (var file = GgufFile.Open(Stories)) tokenizer = LlamaTokenizer.FromGguf(file);

        // Held-out agreement computed here: the full model's greedy continuation of each held-out prompt, fed to both,
        // counting the positions where the plan's argmax is the full model's (EOS ends a continuation, as in si eval).
        long positions = 0, agreements = 0;
        foreach (var prompt in File.ReadAllLines(heldout))
        {
            using var f = full.CreateSession(256);
            using var p = planned.CreateSession(256);
            var tokens = tokenizer.Encode(prompt, addBos: true);
            var fullLogits = f.Forward(tokens).ToArray();
            var planLogits = p.Forward(tokens).ToArray();
            for (var produced = 1; ; produced++)
            {
                var next = Sampler.ArgMax(fullLogits);
                positions++;
                if (Sampler.ArgMax(planLogits) == next) agreements++;
                if (produced == Tokens || next == tokenizer.EosId) break;
                fullLogits = f.Forward(next).ToArray();
                planLogits = p.Forward(next).ToArray();
            }
        }
        using var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "stories260K.target85.heldout.json")));
        var teacherForced = report.RootElement.GetProperty("teacherForced");
        Assert.Equal(positions, teacherForced.GetProperty("positions").GetInt64());
        // The report is of the generated engine when it could run the plan: the same argmax, bar a near tie.
        Assert.InRange(teacherForced.GetProperty("agreements").GetInt64(), agreements - 1, agreements + 1);
        Assert.Equal(plan.Schedule.Describe(), report.RootElement.GetProperty("planSchedule").GetString());
    }

    [Fact]
    public void A_missing_output_folder_is_one_error_line_before_anything_runs()
    {
        var prompts = Lines("p.txt", "prompts.txt", 0, 2);
        var (code, _, err) = Cli.Si.Run("plan", "--model", Stories, "--prompts", prompts, "--heldout", prompts, "--output", Path.Combine(_dir, "absent"));
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Equal($"error: The output folder {Path.Combine(_dir, "absent")} does not exist.\n", err.ReplaceLineEndings("\n"));
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
