using SpecializedInfer.Learning.Calibration;

namespace SpecializedInfer.Tests.Learning;

/// <summary>The Learn-then-Test p-value (MathNet's binomial CDF) against a direct sum of binomial terms, in log space.</summary>
public sealed class BinomialTailTests
{
    /// <summary>Σ_{i ≤ k} C(n, i) rⁱ (1 − r)ⁿ⁻ⁱ, each term from log-gamma-free running products in log space.</summary>
    private static double DirectSum(int k, int n, double r)
    {
        // log C(n, i) built up as Σ log((n − j) / (j + 1)).
        double logChoose = 0, sum = 0;
        for (var i = 0; i <= k; i++)
        {
            if (i > 0) logChoose += Math.Log((double)(n - i + 1) / i);
            sum += Math.Exp(logChoose + i * Math.Log(r) + (n - i) * Math.Log(1 - r));
        }
        return sum;
    }

    [Theory]
    [InlineData(0, 10, 0.1)]
    [InlineData(3, 10, 0.1)]
    [InlineData(5, 1000, 0.01)]
    [InlineData(10, 1000, 0.01)]
    [InlineData(132, 3048, 0.05)]
    [InlineData(90, 12000, 0.01)]
    [InlineData(400, 12000, 0.02)]
    [InlineData(0, 500, 0.005)]
    [InlineData(2500, 5000, 0.5)]
    public void The_p_value_is_the_binomial_lower_tail(int k, int n, double rate)
    {
        var expected = DirectSum(k, n, rate);
        var actual = BinomialTail.PValue(k, n, rate);
        Assert.True(Math.Abs(actual - expected) <= 1e-10 * Math.Max(1, expected) + 1e-13, $"P(X ≤ {k}) for Bin({n}, {rate}): {actual} vs {expected}");
    }

    [Theory]
    [InlineData(3048, 0.05, 0.05)]
    [InlineData(12000, 0.01, 0.05)]
    [InlineData(500, 0.02, 0.1)]
    [InlineData(100, 0.3, 0.01)]
    public void The_critical_count_is_the_last_one_that_rejects(int n, double rate, double delta)
    {
        var c = BinomialTail.CriticalCount(n, rate, delta);
        Assert.True(c >= 0);
        Assert.True(DirectSum(c, n, rate) <= delta);
        Assert.True(DirectSum(c + 1, n, rate) > delta);
    }

    [Fact]
    public void Too_few_tokens_can_never_reject()
    {
        // (1 − 0.01)^200 ≈ 0.134 > 0.05: even no disagreement is not evidence enough for 99%.
        Assert.Equal(-1, BinomialTail.CriticalCount(200, 0.01, 0.05));
        Assert.Equal(0, BinomialTail.CriticalCount(300, 0.01, 0.05)); // 0.99^300 ≈ 0.049
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BinomialTail.PValue(11, 10, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => BinomialTail.PValue(1, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BinomialTail.CriticalCount(10, 0.1, 1));
    }
}
