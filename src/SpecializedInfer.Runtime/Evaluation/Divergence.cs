namespace SpecializedInfer.Evaluation;

/// <summary>
/// Log-probability arithmetic on raw logits, in double precision: log-sum-exp with the maximum subtracted first,
/// so no exponential overflows whatever the logits' scale, and sums that do not lose the small terms of a large
/// vocabulary.
/// </summary>
public static class Divergence
{
    /// <summary>log Σ exp(logits), computed as max + log Σ exp(l − max).</summary>
    public static double LogSumExp(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("No logits.");
        double max = double.NegativeInfinity;
        foreach (var l in logits) if (l > max) max = l;
        if (double.IsNegativeInfinity(max)) return max; // every token impossible
        if (!double.IsFinite(max)) return max; // +∞ or NaN propagate
        double sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        return max + Math.Log(sum);
    }

    /// <summary>−log softmax(logits)[target]: the cross-entropy of one prediction, in nats.</summary>
    public static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int target)
    {
        if ((uint)target >= (uint)logits.Length)
            throw new ArgumentOutOfRangeException($"The target must index one of {logits.Length} logits, not {target}.", innerException: null);
        return LogSumExp(logits) - logits[target];
    }

    /// <summary>
    /// KL(P ‖ Q) = Σ p·(log p − log q) in nats, where P = softmax(<paramref name="pLogits"/>) and
    /// Q = softmax(<paramref name="qLogits"/>). Tokens P gives probability 0 contribute nothing; a token P allows
    /// and Q rules out (logit −∞) makes it +∞. Rounding can leave a few ulps below zero; those are returned as 0.
    /// </summary>
    public static double KullbackLeibler(ReadOnlySpan<float> pLogits, ReadOnlySpan<float> qLogits)
    {
        if (pLogits.Length != qLogits.Length)
            throw new ArgumentException($"The distributions differ in size ({pLogits.Length} and {qLogits.Length} logits).");
        var pNorm = LogSumExp(pLogits);
        var qNorm = LogSumExp(qLogits);
        double sum = 0;
        for (var i = 0; i < pLogits.Length; i++)
        {
            var logP = pLogits[i] - pNorm;
            var p = Math.Exp(logP);
            if (p == 0) continue;
            sum += p * (logP - (qLogits[i] - qNorm));
        }
        return sum < 0 ? 0 : sum;
    }
}
