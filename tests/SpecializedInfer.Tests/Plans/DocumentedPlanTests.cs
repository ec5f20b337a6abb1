using System.Text.RegularExpressions;
using SpecializedInfer.Engine;
using SpecializedInfer.Planning;
using SpecializedInfer.Testing;

namespace SpecializedInfer.Tests.Plans;

/// <summary>
/// The manifest and plans docs/plans.md shows are real: the manifest is the repository's stories260K manifest, every
/// plan loads and runs on stories260K and writes words (not the punctuation an earlier example produced), and the
/// output the page quotes for its first plan is what that plan generates.
/// </summary>
public sealed partial class DocumentedPlanTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-doc-plans-").FullName;
    private static string Stories => ModelLocator.Find("stories260K.gguf");
    private static string PlansPage => Path.Combine(Path.GetDirectoryName(ReferencePlanExecutionTests.RepositoryModels)!, "docs", "plans.md");

    [GeneratedRegex(@"^```json\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex JsonBlock();

    [GeneratedRegex(@"reads like the full model's:\s*`([^`]*?)\s*\.\.\.`")]
    private static partial Regex QuotedOutput();

    private static string Page => File.ReadAllText(PlansPage).ReplaceLineEndings("\n");

    private static List<string> Blocks() => JsonBlock().Matches(Page).Select(m => m.Groups[1].Value).ToList();

    private static List<string> AllPlanBlocks() => Blocks().Where(b => b.TrimStart().StartsWith('{') && b.Contains("\"manifest\"", StringComparison.Ordinal)).ToList();

    /// <summary>The decoder plans (over stories260K); the encoder plans (over MiniLM's manifest) run in EncoderExitTests.</summary>
    private static List<string> PlanBlocks() => AllPlanBlocks().Where(b => !b.Contains(EncoderManifest, StringComparison.Ordinal)).ToList();

    internal const string EncoderManifest = "\"minilm.model.json\"";

    /// <summary>The plans docs/plans.md shows for MiniLM (manifest <c>minilm.model.json</c>).</summary>
    internal static List<string> EncoderPlanBlocks() => AllPlanBlocks().Where(b => b.Contains(EncoderManifest, StringComparison.Ordinal)).ToList();

    [Fact]
    public void The_manifest_example_is_the_stories260K_manifest()
    {
        var shown = Blocks().First(b => b.Contains("\"architecture\"", StringComparison.Ordinal));
        var read = ManifestReader.Read(shown, "plans.md");
        Assert.NotNull(read.Manifest); // an info (hiddenDim 172 needs tail code) is not a problem
        var repository = ManifestReader.Read(File.ReadAllText(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json")), "stories260K.model.json");
        Assert.Equal(repository.Manifest, read.Manifest);
    }

    [Fact]
    public void Every_plan_example_loads_runs_and_writes_words()
    {
        var plans = PlanBlocks();
        Assert.True(plans.Count >= 2, $"docs/plans.md shows {plans.Count} plans");
        foreach (var (json, i) in plans.Select((p, i) => (p, i)))
        {
            var text = Generate(WritePlan(json, i), 48);
            // Words of letters, most of them different: "Once upon a time,,,,,," or "li li li" fails.
            var words = Regex.Matches(text, @"\p{L}{2,}").Select(m => m.Value.ToLowerInvariant()).ToList();
            Assert.True(words.Count >= 20 && words.Distinct().Count() >= 12, $"Plan {i + 1} of docs/plans.md writes: {text}");
        }
    }

    [Fact]
    public void The_first_plan_writes_what_the_page_quotes_and_so_does_the_full_model()
    {
        var quoted = QuotedOutput().Match(Page);
        Assert.True(quoted.Success, "docs/plans.md no longer quotes the first plan's output");
        var expected = Regex.Replace(quoted.Groups[1].Value, @"\s+", " "); // the page wraps lines
        Assert.StartsWith(expected, Generate(WritePlan(PlanBlocks()[0], 0), 40), StringComparison.Ordinal);
        Assert.StartsWith(expected, Generate(null, 40), StringComparison.Ordinal);
    }

    private string WritePlan(string json, int index)
    {
        File.Copy(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json"), Path.Combine(_dir, "stories260K.model.json"), overwrite: true);
        var path = Path.Combine(_dir, $"example{index}.plan.json");
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>Greedy text from "Once upon a time" with the plan (or the full model), as <c>si run</c> prints it.</summary>
    private static string Generate(string? planPath, int count)
    {
        using var engine = planPath is null ? ReferenceEngine.Load(Stories) : ReferenceEngine.Load(Stories, planPath);
        return GreedyStory.Write(engine, Stories, count);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
