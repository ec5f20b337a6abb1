using System.Text.Json;
using SpecializedInfer.Engine;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Cli;

/// <summary><c>si analyze</c> and <c>si compact</c> as a script runs them: files written, tables printed, errors as one line.</summary>
public sealed class AnalyzeAndCompactCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-analyze-cli-").FullName;
    private static string Stories => ModelLocator.Find("stories260K.gguf");

    [Fact]
    public void Analyze_prints_the_tables_and_writes_the_json_and_the_plots()
    {
        var text = Path.Combine(_dir, "text.txt");
        File.WriteAllText(text, string.Join(" ", File.ReadAllLines(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "eval", "heldout-stories.txt")).Take(6)));
        var json = Path.Combine(_dir, "report.json");
        var plots = Path.Combine(_dir, "plots");
        var (code, output, error) = Si.Run("analyze", "--model", Stories, "--text", text, "--json", json, "--plot", plots, "--block", "3", "--laco-layers", "2");
        Assert.True(code == 0, error);
        Assert.Contains("SLEB round", output);
        Assert.Contains("block of 3", output);
        Assert.Contains("LaCo merge", output);
        using var report = JsonDocument.Parse(File.ReadAllBytes(json));
        var r = report.RootElement.GetProperty("report");
        Assert.Equal(5, r.GetProperty("perLayer").GetArrayLength());
        Assert.Equal(3, r.GetProperty("perBlock").GetArrayLength());
        Assert.Equal(4, r.GetProperty("sleb").GetArrayLength());
        Assert.Equal(9, r.GetProperty("weightSimilarity").GetArrayLength());
        Assert.Equal(4, r.GetProperty("laco").GetArrayLength());
        foreach (var png in new[] { "importance.png", "removal-perplexity.png", "sleb.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(plots, png));
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        }
    }

    [Fact]
    public void Compact_writes_the_model_manifest_and_plan_that_run_it()
    {
        File.Copy(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json"), Path.Combine(_dir, "stories260K.model.json"));
        var plan = Path.Combine(_dir, "p.plan.json");
        File.WriteAllText(plan, """{ "manifest": "stories260K.model.json", "prune": [2], "share": [ { "layer": 4, "weightsOf": 3 } ] }""");
        var output = Path.Combine(_dir, "small.gguf");
        var (code, text, error) = Si.Run("compact", "--model", Stories, "--plan", plan, "--output", output);
        Assert.True(code == 0, error);
        Assert.Contains("3 of 5 layers stored", text);
        Assert.Contains("364,576 saved", text);
        using var engine = ReferenceEngine.Load(output, Path.Combine(_dir, "small.plan.json"));
        Assert.Equal("4 steps [0 1 2 2]", engine.Schedule.Describe());
    }

    [Theory]
    [InlineData("analyze", "--text", "missing.txt")]
    [InlineData("compact", "--plan", "missing.plan.json", "--output", "x.gguf")]
    public void A_missing_file_is_one_error_line(params string[] args)
    {
        var (code, _, error) = Si.Run([.. args, "--model", Stories]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains("missing", error);
        Assert.DoesNotContain("   at ", error);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
