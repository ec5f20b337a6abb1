using SpecializedInfer.Evaluation;

namespace SpecializedInfer.Tests.Evaluation;

/// <summary>The log-probability arithmetic against sums written out by hand.</summary>
public sealed class DivergenceTests
{
    private static float[] Logits(params double[] probabilities) => probabilities.Select(p => (float)Math.Log(p)).ToArray();

    [Fact]
    public void Kl_of_known_distributions_matches_the_hand_sum()
    {
        // P = (1/2, 1/4, 1/4), Q uniform: KL = 1/2 ln(3/2) + 2 · 1/4 ln(3/4).
        var expected = 0.5 * Math.Log(1.5) + 0.5 * Math.Log(0.75);
        Assert.Equal(expected, Divergence.KullbackLeibler(Logits(0.5, 0.25, 0.25), Logits(1.0 / 3, 1.0 / 3, 1.0 / 3)), 6);
        // Reversed: KL(Q ‖ P) = 1/3 ln(2/3) + 2 · 1/3 ln(4/3), a different number (KL is not symmetric).
        var reversed = Math.Log(2.0 / 3) / 3 + 2 * Math.Log(4.0 / 3) / 3;
        Assert.Equal(reversed, Divergence.KullbackLeibler(Logits(1.0 / 3, 1.0 / 3, 1.0 / 3), Logits(0.5, 0.25, 0.25)), 6);
        Assert.NotEqual(expected, reversed, 3);
    }

    [Fact]
    public void Kl_of_two_tokens_in_closed_form()
    {
        // Bernoulli(0.9) against Bernoulli(0.2): 0.9 ln(0.9/0.2) + 0.1 ln(0.1/0.8).
        var expected = 0.9 * Math.Log(0.9 / 0.2) + 0.1 * Math.Log(0.1 / 0.8);
        Assert.Equal(expected, Divergence.KullbackLeibler(Logits(0.9, 0.1), Logits(0.2, 0.8)), 6);
    }

    [Fact]
    public void Kl_is_zero_for_the_same_logits_and_ignores_a_shift()
    {
        float[] p = [3.5f, -1, 0.25f, 7, 7, -20];
        Assert.Equal(0.0, Divergence.KullbackLeibler(p, p));
        var shifted = p.Select(l => l + 100f).ToArray(); // same distribution, other logits
        Assert.True(Divergence.KullbackLeibler(p, shifted) < 1e-9);
    }

    [Fact]
    public void Large_logits_do_not_overflow()
    {
        float[] p = [10000f, 9999f, 0f];
        float[] q = [9999f, 10000f, 0f];
        // P = (e/(1+e), 1/(1+e), ~0), Q swapped: KL = (a − b) ln(a/b) with a = e/(1+e), b = 1/(1+e).
        double a = Math.E / (1 + Math.E), b = 1 / (1 + Math.E);
        Assert.Equal((a - b) * Math.Log(a / b), Divergence.KullbackLeibler(p, q), 9);
        Assert.Equal(10000 + Math.Log(1 + 1 / Math.E), Divergence.LogSumExp(p), 9);
    }

    [Fact]
    public void A_token_q_rules_out_makes_kl_infinite_and_p_zero_contributes_nothing()
    {
        Assert.Equal(double.PositiveInfinity, Divergence.KullbackLeibler([0f, 0f], [0f, float.NegativeInfinity]));
        Assert.Equal(Math.Log(2), Divergence.KullbackLeibler([0f, float.NegativeInfinity], [0f, 0f]), 12);
    }

    [Fact]
    public void Negative_log_likelihood_is_minus_log_softmax()
    {
        var nll = Divergence.NegativeLogLikelihood(Logits(0.5, 0.25, 0.25), 1);
        Assert.Equal(Math.Log(4), nll, 6);
        Assert.Throws<ArgumentOutOfRangeException>(() => Divergence.NegativeLogLikelihood([1f, 2f], 2));
    }

    [Fact]
    public void Mismatched_sizes_are_rejected() =>
        Assert.Throws<ArgumentException>(() => Divergence.KullbackLeibler([0f, 1f], [0f, 1f, 2f]));
}
