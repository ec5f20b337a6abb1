using System.Globalization;
using SpecializedInfer.Engine;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Cli;

/// <summary>Prints what a plan did during a run: depth per generated token, where tokens exited, skips, recomputation and drafting.</summary>
public static class StatsPrinter
{
    public static void Print(SessionStatistics stats, ExecutionSchedule schedule, TextWriter writer)
    {
        var inv = CultureInfo.InvariantCulture;
        writer.WriteLine($"plan: {schedule.Describe()}");
        writer.WriteLine(string.Create(inv, $"steps per generated token: mean {stats.MeanStepsPerGeneratedToken:F2} of {schedule.Steps.Count} over {stats.GeneratedTokens} tokens ({stats.PromptTokens} prompt tokens ran all {schedule.Steps.Count})"));
        var histogram = stats.StepsHistogram;
        for (var n = 0; n < histogram.Length; n++)
            if (histogram[n] > 0) writer.WriteLine(string.Create(inv, $"  {n,3} steps: {histogram[n],6} tokens"));
        var exits = stats.ExitsPerStep;
        foreach (var exit in schedule.Exits)
            writer.WriteLine(string.Create(inv, $"  exit after step {exit.AfterStep} ({exit.Test.Describe()}): {exits[exit.AfterStep]} tokens"));
        var skips = stats.SkipsPerStep;
        foreach (var step in schedule.Steps.Where(s => s.Skip is not null))
            writer.WriteLine(string.Create(inv, $"  skips of step {step.Index} (layer {step.Layer}): {skips[step.Index]} tokens"));
        if (stats.RecomputedSteps > 0)
            writer.WriteLine(string.Create(inv, $"steps recomputed for exited positions (kvFill recompute): {stats.RecomputedSteps}"));
        if (schedule.Speculation is not null || stats.VerificationPasses > 0)
        {
            // Tokens per pass counts the confirmed token too: what one full-depth batch bought.
            var perPass = stats.VerificationPasses == 0 ? 0 : (double)(stats.VerificationPasses + stats.AcceptedDrafts) / stats.VerificationPasses;
            writer.WriteLine(string.Create(inv,
                $"draft acceptance: {stats.AcceptedDrafts} of {stats.DraftedTokens} drafted tokens accepted ({stats.AcceptanceRate:P1}) in {stats.VerificationPasses} verification passes ({perPass:F2} tokens per pass)"));
        }
    }
}
