using Spectre.Console;
using SpecializedInfer.Evaluation;

namespace SpecializedInfer.Cli;

/// <summary>Long work with one Spectre progress bar per phase on an interactive console, and none when output is redirected.</summary>
internal static class ProgressBars
{
    public static T Run<T>(CliContext context, Func<IProgress<EvaluationProgress>?, T> work)
    {
        if (!context.Out.Profile.Capabilities.Interactive) return work(null);
        return context.Out.Progress().AutoClear(true).Start(ctx =>
        {
            var tasks = new Dictionary<string, ProgressTask>();
            return work(new Commands.EvalCommand.SynchronousProgress(p =>
            {
                if (!tasks.TryGetValue(p.Phase, out var task)) tasks[p.Phase] = task = ctx.AddTask(p.Phase, maxValue: p.Total);
                task.Value = p.Done;
            }));
        });
    }
}
