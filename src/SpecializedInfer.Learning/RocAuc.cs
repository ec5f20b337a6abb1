namespace SpecializedInfer.Learning;

/// <summary>
/// Area under the ROC curve of a score for a binary label: the probability that a randomly chosen positive scores
/// above a randomly chosen negative, ties counting one half (the Mann-Whitney U statistic over positives × negatives),
/// computed from average ranks in O(n log n).
/// </summary>
public static class RocAuc
{
    /// <summary>NaN when every label is the same (no pair to compare).</summary>
    public static double Compute(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        if (scores.Length != labels.Length)
            throw new ArgumentException($"{scores.Length} scores for {labels.Length} labels.");
        var n = scores.Length;
        var order = new int[n];
        var keys = scores.ToArray();
        foreach (var s in keys)
            if (double.IsNaN(s)) throw new ArgumentException("A score is NaN.");
        for (var i = 0; i < n; i++) order[i] = i;
        Array.Sort(keys, order);
        long positives = 0;
        double positiveRankSum = 0;
        for (var start = 0; start < n;)
        {
            var end = start;
            while (end + 1 < n && keys[end + 1] == keys[start]) end++;
            var rank = (start + end) / 2.0 + 1; // the tied block's average 1-based rank
            for (var i = start; i <= end; i++)
                if (labels[order[i]]) { positives++; positiveRankSum += rank; }
            start = end + 1;
        }
        long negatives = n - positives;
        if (positives == 0 || negatives == 0) return double.NaN;
        var u = positiveRankSum - positives * (positives + 1) / 2.0;
        return u / ((double)positives * negatives);
    }
}
