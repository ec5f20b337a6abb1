using ScottPlot;
using SpecializedInfer.Learning.Search;

namespace SpecializedInfer.Cli;

/// <summary>The PNG plot of <c>si plan</c>: every candidate's speed against its agreement, the Pareto front and the target.</summary>
internal static class SearchPlots
{
    private const int Width = 1000, Height = 620;

    /// <summary>Writes <c>LABEL.pareto.png</c> into <paramref name="directory"/> (created if missing); returns its path.</summary>
    public static string Write(PlanSearchResult r, double target, string directory, string label)
    {
        Directory.CreateDirectory(directory);
        var plot = new Plot();
        var points = r.Candidates.Where(m => m.IsPoint).ToList();
        var others = points.Except(r.Front).ToList();
        var all = plot.Add.ScatterPoints(others.Select(m => m.Speed!.Speedup).ToArray(), others.Select(m => m.Quality!.Agreement).ToArray());
        all.LegendText = "candidates";
        all.MarkerSize = 7;
        all.Color = Colors.Gray;

        var front = plot.Add.Scatter(r.Front.Select(m => m.Speed!.Speedup).ToArray(), r.Front.Select(m => m.Quality!.Agreement).ToArray());
        front.LegendText = "Pareto front";
        front.MarkerSize = 10;
        front.ConnectStyle = ConnectStyle.StepVertical;
        foreach (var m in r.Front)
        {
            var text = plot.Add.Text(m.Candidate.Name, m.Speed!.Speedup, m.Quality!.Agreement);
            text.LabelFontSize = 11;
        }

        var goal = plot.Add.HorizontalLine(target);
        goal.LegendText = $"target {target.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        goal.LinePattern = LinePattern.Dashed;
        var chosen = plot.Add.ScatterPoints(new[] { r.Best.Speed!.Speedup }, new[] { r.Best.Quality!.Agreement });
        chosen.LegendText = $"chosen: {r.Best.Candidate.Name}";
        chosen.MarkerSize = 16;
        chosen.MarkerShape = MarkerShape.OpenCircle;

        plot.Title("si plan: decode speed vs teacher-forced agreement (calibration prompts)");
        plot.XLabel("decode speed vs the full model");
        plot.YLabel("agreement with the full model");
        plot.ShowLegend(Alignment.LowerLeft);
        var path = Path.Combine(directory, label + ".pareto.png");
        plot.SavePng(path, Width, Height);
        return path;
    }
}
