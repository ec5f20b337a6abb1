using System.Globalization;
using Spectre.Console;
using SpecializedInfer.Hub;

namespace SpecializedInfer.Cli;

/// <summary>
/// Downloads shown as they happen: a Spectre progress bar per file (size, speed, time left) on an interactive console,
/// and one "downloading" line per file on standard error otherwise, so logs and scripts see what was fetched.
/// </summary>
internal static class DownloadProgressDisplay
{
    public static T Run<T>(CliContext context, Func<IProgress<DownloadProgress>, T> work)
    {
        if (!context.Out.Profile.Capabilities.Interactive)
        {
            var announced = new HashSet<string>();
            return work(new Reporter(p =>
            {
                if (announced.Add(p.Name))
                    context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"downloading {p.Name}{(p.Total is { } total ? $" ({total:N0} bytes{(p.Received > 0 ? $", resuming at {p.Received:N0}" : "")})" : "")}"));
            }));
        }
        return context.Out.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                return work(new Reporter(p =>
                {
                    lock (tasks)
                    {
                        if (!tasks.TryGetValue(p.Name, out var task)) tasks[p.Name] = task = ctx.AddTask(Markup.Escape(p.Name), maxValue: p.Total ?? 1);
                        if (p.Total is { } total) task.MaxValue = total;
                        task.Value = p.Total is null ? 0 : p.Received;
                    }
                }));
            });
    }

    /// <summary>Reports on the downloading thread (<see cref="Progress{T}"/> would post them to the thread pool, out of order).</summary>
    private sealed class Reporter(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }
}
