using System.Globalization;
using System.Text.RegularExpressions;
using SpecializedInfer.Cli;

namespace SpecializedInfer.Tests.Cli;

/// <summary>What <c>si run</c> tells on standard error: which engine ran, prompt and decode speed apart, why it stopped.</summary>
public sealed class RunReportTests
{
    private static string Stories => ModelLocator.Find("stories260K.gguf");

    private static double Number(string text, string pattern) =>
        double.Parse(Regex.Match(text, pattern).Groups[1].Value, CultureInfo.InvariantCulture);

    [Fact]
    public void The_report_names_the_engine_and_gives_prompt_and_decode_speed_apart()
    {
        var (code, _, err) = Si.Run("run", "--model", Stories, "--prompt", "Once upon a time", "-n", "40");
        Assert.Equal(ExitCodes.Success, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("reference engine, the full model (no plan)", lines[0]);
        Assert.Matches(@"^5 prompt tokens in [0-9.]+ ms \([0-9.]+ tokens/s, first call: JIT compilation included\)$", lines[1]);
        // Times are printed to 0.1 ms, so the rate they imply is known only within that rounding (a fast prompt takes
        // well under a millisecond).
        var promptMs = Number(lines[1], @"in ([0-9.]+) ms");
        AssertRate(5, promptMs - 0.05, promptMs + 0.05, Number(lines[1], @"\(([0-9.]+) tokens/s"));

        // The decode rate leaves out the first step (JIT compilation): 38 steps in the time after the first.
        var decode = lines[2];
        Assert.Matches(@"^40 generated tokens, 39 decode steps in [0-9.]+ ms \([0-9.]+ tokens/s after the first step; the first took [0-9.]+ ms, JIT compilation included\)$", decode);
        var total = Number(decode, @"steps in ([0-9.]+) ms");
        var first = Number(decode, @"the first took ([0-9.]+) ms");
        var rate = Number(decode, @"\(([0-9.]+) tokens/s");
        Assert.InRange(first, 0, total);
        AssertRate(38, total - first - 0.1, total - first + 0.1, rate);
    }

    /// <summary><paramref name="rate"/> (printed to 0.1) is <paramref name="count"/> per a time between the two bounds (ms).</summary>
    private static void AssertRate(int count, double minMs, double maxMs, double rate) =>
        Assert.InRange(rate, count / maxMs * 1000 - 0.1, minMs <= 0 ? double.MaxValue : count / minMs * 1000 + 0.1);

    [Fact]
    public void A_plan_run_names_the_plan_and_what_it_does()
    {
        var plan = Path.Combine(SpecializedInfer.Tests.Plans.ReferencePlanExecutionTests.RepositoryModels, "stories260K.fast.plan.json");
        var (code, _, err) = Si.Run("run", "--model", Stories, "--prompt", "Once upon a time", "-n", "8", "--plan", plan);
        Assert.Equal(ExitCodes.Success, code);
        Assert.StartsWith("reference engine, plan stories260K.fast.plan.json: 5 steps [0 1 2 3 4], exit after step 3", err);
    }

    [Fact]
    public void Stopping_because_the_context_is_full_is_said()
    {
        var (code, text, err) = Si.Run("run", "--model", Stories, "--prompt", "Once upon a time", "-n", "100", "--context", "16");
        Assert.Equal(ExitCodes.Success, code);
        // 5 prompt tokens and 11 generated ones fill 16 positions; a 12th comes from the last position's logits.
        Assert.Contains("12 generated tokens", err);
        Assert.Contains("stopped after 12 of 100 tokens: the context of 16 positions is full (5 prompt tokens; --context sets its size, the model was trained on 2048).", err);
        Assert.StartsWith("Once upon a time", text);

        // Stopping at the budget says nothing of the kind.
        Assert.DoesNotContain("stopped", Si.Run("run", "--model", Stories, "--prompt", "Once upon a time", "-n", "5").Err);
    }

    [Fact]
    public void A_context_above_the_trained_length_is_warned_about()
    {
        var (code, _, err) = Si.Run("run", "--model", Stories, "--prompt", "Hi", "-n", "2", "--context", "4096");
        Assert.Equal(ExitCodes.Success, code);
        Assert.StartsWith("warning: --context 4096 is above the 2048 positions the model was trained on", err);
        Assert.DoesNotContain("warning", Si.Run("run", "--model", Stories, "--prompt", "Hi", "-n", "2", "--context", "2048").Err);
    }

    [Fact]
    public void A_prompt_that_does_not_fit_prints_nothing_and_one_plain_error()
    {
        var prompt = string.Join(' ', Enumerable.Repeat("Once upon a time", 10));
        var (code, text, err) = Si.Run("run", "--model", Stories, "--prompt", prompt, "--context", "8");
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Equal("", text);
        Assert.Matches(@"^error: The prompt of \d+ tokens does not fit the 8 free positions of the 8-position context\.\r?\n$", err);
    }

    [Fact]
    public void Argument_errors_reach_the_user_without_the_parameter_name()
    {
        // A library argument error that still carries a parameter name: the CLI prints its sentence only.
        Assert.Equal("The thing is wrong.", UserMessage.Of(new ArgumentException("The thing is wrong.", "thing")));
        Assert.Equal("Too big.", UserMessage.Of(new ArgumentOutOfRangeException("size", 5, "Too big.")));
        Assert.Equal("Plain.", UserMessage.Of(new ArgumentException("Plain.")));
    }
}
