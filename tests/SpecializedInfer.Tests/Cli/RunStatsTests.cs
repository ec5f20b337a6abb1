using System.Text.RegularExpressions;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Cli;

/// <summary><c>si run --stats</c> with dynamic plans: exits by criterion, skips per step, recomputed steps.</summary>
public sealed class RunStatsTests
{
    private static string EvalPlan(string name) =>
        Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "eval", "plans", $"stories260K.{name}.plan.json");

    private static (int Code, string Err) Run(string plan)
    {
        var (code, _, err) = Si.Run("run", "--model", ModelLocator.Find("stories260K.gguf"), "--prompt", "Once upon a time", "-n", "96", "--plan", plan, "--stats");
        return (code, err);
    }

    private static long Count(string err, string pattern) => long.Parse(Regex.Match(err, pattern).Groups[1].Value);

    [Fact]
    public void Skips_are_printed_per_skippable_step_and_add_up_with_the_depth()
    {
        var (code, err) = Run(EvalPlan("skip95"));
        Assert.Equal(0, code);
        var step2 = Count(err, @"skips of step 2 \(layer 2\): (\d+) tokens");
        var step3 = Count(err, @"skips of step 3 \(layer 3\): (\d+) tokens");
        var tokens = Count(err, @"over (\d+) tokens");
        var mean = double.Parse(Regex.Match(err, @"mean (\d+\.\d+) of 5").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(step2 + step3 > 0, err);
        // Skipped steps are not run: the mean depth is the schedule minus the skips per token.
        Assert.Equal(5 - (double)(step2 + step3) / tokens, mean, 2);
    }

    [Fact]
    public void Recomputed_steps_and_exits_by_criterion_are_printed()
    {
        var (code, err) = Run(EvalPlan("exit2-recompute"));
        Assert.Equal(0, code);
        Assert.Matches(@"exit after step 2 \(max p ≥ 0\.7\): \d+ tokens", err);
        Assert.True(Count(err, @"steps recomputed for exited positions \(kvFill recompute\): (\d+)") > 0, err);
    }
}
