using SpecializedInfer.Cli;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Speculation;

/// <summary><c>si run --plan stories260K.lossless.plan.json</c>: the full model's text, and draft acceptance with --stats.</summary>
public sealed class RunCommandSpeculationTests
{
    private static (int Code, string Out, string Err) Si(params string[] args) => Cli.Si.Run(args);

    [Fact]
    public void Run_with_the_lossless_plan_prints_the_full_models_text_and_draft_acceptance()
    {
        var model = Stories260KSpeculation.Model;
        var plan = Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.lossless.plan.json");
        var (fullCode, fullText, _) = Si("run", "--model", model, "--prompt", "Once upon a time", "-n", "120");
        var (code, text, err) = Si("run", "--model", model, "--prompt", "Once upon a time", "-n", "120", "--plan", plan, "--stats");
        Assert.Equal(0, fullCode);
        Assert.Equal(0, code);
        Assert.Equal(fullText, text);
        Assert.Contains("self-speculative", err);
        var line = err.Split('\n').Single(l => l.StartsWith("draft acceptance:"));
        Assert.Matches(@"^draft acceptance: \d+ of \d+ drafted tokens accepted \(\d+(\.\d)? ?%\) in \d+ verification passes \(\d+\.\d\d tokens per pass\)", line);

        var (_, _, sampledErr) = Si("run", "--model", model, "--prompt", "Once upon a time", "-n", "20", "--plan", plan, "--stats", "--temp", "0.7");
        Assert.DoesNotContain("self-speculative", sampledErr);
        Assert.Contains("in 0 verification passes", sampledErr);
    }
}
