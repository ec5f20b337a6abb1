namespace SpecializedInfer.Learning.Search;

/// <summary>The non-dominated points of speed against agreement (both higher is better).</summary>
public static class ParetoFront
{
    /// <summary>
    /// The points no other point dominates (at least as fast and as faithful, and better in one), fastest first. Of
    /// points equal in both, the first is kept.
    /// </summary>
    public static IReadOnlyList<T> Of<T>(IEnumerable<T> points, Func<T, double> speed, Func<T, double> agreement)
    {
        ArgumentNullException.ThrowIfNull(points);
        // Sorted by speed (then agreement) descending, a point is on the front exactly when it is more faithful than
        // every faster point before it.
        var front = new List<T>();
        var best = double.NegativeInfinity;
        foreach (var p in points.Select((p, i) => (p, i)).OrderByDescending(x => speed(x.p)).ThenByDescending(x => agreement(x.p)).ThenBy(x => x.i))
        {
            if (agreement(p.p) <= best) continue;
            front.Add(p.p);
            best = agreement(p.p);
        }
        return front;
    }

    /// <summary>True when point A dominates point B: at least as fast and as faithful, and better in one.</summary>
    public static bool Dominates(double speedA, double agreementA, double speedB, double agreementB) =>
        speedA >= speedB && agreementA >= agreementB && (speedA > speedB || agreementA > agreementB);
}
