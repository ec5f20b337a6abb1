using ScottPlot;
using SpecializedInfer.Analysis;

namespace SpecializedInfer.Cli;

/// <summary>The PNG plots of <c>si analyze</c>: importance per layer, perplexity without each part, and SLEB's curve.</summary>
internal static class AnalysisPlots
{
    private const int Width = 900, Height = 520;

    /// <summary>Writes every plot into <paramref name="directory"/> (created if missing); returns the files written.</summary>
    public static IReadOnlyList<string> Write(LayerAnalysisReport r, string directory)
    {
        Directory.CreateDirectory(directory);
        var labels = Enumerable.Range(0, r.Layers).Select(l => $"{l}").ToArray();
        var written = new List<string>();

        var importance = new Plot();
        Grouped(importance, labels,
            ("Block Influence (1 − cos)", r.PerLayer.Select(l => l.BlockInfluence).ToArray()),
            ("angular distance, all tokens", r.PerLayer.Select(l => l.AngularDistanceAll).ToArray()),
            ("angular distance, last token", r.PerLayer.Select(l => l.AngularDistanceLast).ToArray()));
        importance.Title("How much each layer changes the hidden state");
        importance.XLabel("layer");
        written.Add(Save(importance, directory, "importance.png"));

        var removal = new Plot();
        Grouped(removal, labels,
            ("without the layer", r.PerLayer.Select(l => l.PerplexityWithoutLayer).ToArray()),
            ("without its attention", r.PerLayer.Select(l => l.PerplexityWithoutAttention).ToArray()),
            ("without its feed-forward", r.PerLayer.Select(l => l.PerplexityWithoutFeedForward).ToArray()));
        var full = removal.Add.HorizontalLine(r.Full.Perplexity);
        full.LegendText = "full model";
        full.LinePattern = LinePattern.Dashed;
        removal.Title("Perplexity with one part removed");
        removal.XLabel("layer");
        removal.YLabel("perplexity");
        written.Add(Save(removal, directory, "removal-perplexity.png"));

        var sleb = new Plot();
        var removed = Enumerable.Range(0, r.Sleb.Count + 1).Select(i => (double)i).ToArray();
        // Perplexity grows by orders of magnitude as layers go: plotted on a log scale (log10, ticks at powers of ten).
        var perplexity = new[] { r.Full.Perplexity }.Concat(r.Sleb.Select(s => s.Perplexity)).Select(Math.Log10).ToArray();
        var curve = sleb.Add.Scatter(removed, perplexity);
        curve.LegendText = "SLEB greedy order";
        curve.MarkerSize = 8;
        for (var i = 0; i < r.Sleb.Count; i++)
        {
            var label = sleb.Add.Text($"−{r.Sleb[i].Removed}", removed[i + 1], perplexity[i + 1]);
            label.LabelFontSize = 12;
        }
        sleb.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(removed, removed.Select(x => $"{x:0}").ToArray());
        var decades = Enumerable.Range(0, (int)Math.Ceiling(perplexity.Max()) + 1).Select(d => (double)d).ToArray();
        sleb.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(decades, decades.Select(d => Math.Pow(10, d).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        sleb.Title("Layers removed (SLEB) vs perplexity");
        sleb.XLabel("layers removed");
        sleb.YLabel("perplexity (log scale)");
        written.Add(Save(sleb, directory, "sleb.png"));
        return written;
    }

    /// <summary>Bars grouped by layer, one series per colour, with a legend.</summary>
    private static void Grouped(Plot plot, string[] labels, params (string Name, double[] Values)[] series)
    {
        var palette = new ScottPlot.Palettes.Category10();
        var width = 0.8 / series.Length;
        var bars = new List<Bar>();
        for (var s = 0; s < series.Length; s++)
        {
            var color = palette.GetColor(s);
            for (var i = 0; i < labels.Length; i++)
                if (double.IsFinite(series[s].Values[i]))
                    bars.Add(new Bar { Position = i - 0.4 + width * (s + 0.5), Value = series[s].Values[i], Size = width, FillColor = color });
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = series[s].Name, FillColor = color });
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, labels.Length).Select(i => (double)i).ToArray(), labels);
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperRight);
    }

    private static string Save(Plot plot, string directory, string name)
    {
        var path = Path.Combine(directory, name);
        plot.SavePng(path, Width, Height);
        return path;
    }
}
