using SpecializedInfer.Planning;

namespace SpecializedInfer.Learning.Calibration;

/// <summary>
/// The one scalar calibration moves: strictness s ∈ [0, 1] sets every exit's threshold at once, as CALM shares one
/// confidence threshold across layers. s = 1 is the strictest setting of each criterion, s = 0 lets every token leave:
/// <list type="table">
/// <item><term>maxProbability, margin, learned, stateSaturation</term><description>threshold = s (a token leaves when its measure ≥ s)</description></item>
/// <item><term>entropy</term><description>threshold = (1 − s)·ln V nats (V the vocabulary; a token leaves when its entropy ≤ that)</description></item>
/// </list>
/// The map is fixed before any data is seen, so the candidates (and their order) do not depend on the calibration
/// tokens, as fixed-sequence testing requires. Patience and ensembles have no single threshold and are refused.
/// </summary>
public static class StrictnessScale
{
    /// <summary>The candidates strict to loose: 1, 1 − 1/<paramref name="steps"/>, …, 0.</summary>
    public static IEnumerable<double> Grid(int steps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException($"The grid needs at least one step, not {steps}.", innerException: null);
        for (var j = 0; j <= steps; j++) yield return Math.Round(1 - (double)j / steps, 12);
    }

    public static bool Calibrates(ExitCriterion criterion) =>
        criterion is ExitCriterion.MaxProbability or ExitCriterion.Margin or ExitCriterion.Entropy or ExitCriterion.StateSaturation or ExitCriterion.Learned;

    /// <summary>The threshold strictness <paramref name="s"/> gives a test of <paramref name="criterion"/>.</summary>
    public static double Threshold(ExitCriterion criterion, double s, int vocab) => criterion switch
    {
        ExitCriterion.Entropy => Math.Round((1 - s) * Math.Log(vocab), 12),
        _ when Calibrates(criterion) => s,
        _ => throw new ArgumentException($"A {criterion} exit has no single threshold to calibrate."),
    };

    /// <summary>The plan with every exit's threshold set by strictness <paramref name="s"/>.</summary>
    public static LayerPlan Apply(LayerPlan plan, double s, int vocab) => plan with
    {
        Exits = plan.Exits.Select(e => e with { Test = e.Test with { Threshold = Threshold(e.Criterion, s, vocab) } }).ToArray(),
    };
}
