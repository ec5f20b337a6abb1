using System.Globalization;
using MathNet.Numerics.Distributions;

namespace SpecializedInfer.Learning.Calibration;

/// <summary>
/// The exact binomial p-value of Learn-then-Test for a 0/1 loss. With n tokens of which k disagree, the hypothesis
/// H0 "the disagreement rate exceeds r" is rejected at level δ when P(Bin(n, r) ≤ k) ≤ δ: under any rate above r,
/// seeing k or fewer disagreements is even less likely, so the boundary rate r gives the p-value.
/// </summary>
public static class BinomialTail
{
    /// <summary>P(Bin(<paramref name="n"/>, <paramref name="rate"/>) ≤ <paramref name="k"/>) (MathNet's binomial CDF).</summary>
    public static double PValue(int k, int n, double rate)
    {
        if (n < 1) throw new ArgumentOutOfRangeException($"At least one token is needed, not {n}.", innerException: null);
        if (k < 0 || k > n) throw new ArgumentOutOfRangeException($"Disagreements run from 0 to {n}, not {k}.", innerException: null);
        if (!(rate > 0 && rate < 1)) throw new ArgumentOutOfRangeException(string.Create(CultureInfo.InvariantCulture, $"The rate must be above 0 and below 1, not {rate}."), innerException: null);
        return k == n ? 1 : Math.Clamp(Binomial.CDF(rate, n, k), 0, 1);
    }

    /// <summary>
    /// The most disagreements among <paramref name="n"/> tokens that still reject H0 at <paramref name="delta"/>, or −1
    /// when even none would (n too small for the target: (1 − rate)ⁿ &gt; δ).
    /// </summary>
    public static int CriticalCount(int n, double rate, double delta)
    {
        if (!(delta > 0 && delta < 1)) throw new ArgumentOutOfRangeException(string.Create(CultureInfo.InvariantCulture, $"δ must be above 0 and below 1, not {delta}."), innerException: null);
        // The CDF rises with k: binary search for the last k with P(X ≤ k) ≤ δ.
        int low = -1, high = n; // invariant: PValue(low) ≤ δ (or low = −1), PValue(high) > δ (PValue(n) = 1)
        while (high - low > 1)
        {
            var mid = low + (high - low) / 2;
            if (PValue(mid, n, rate) <= delta) low = mid;
            else high = mid;
        }
        return low;
    }
}
