using SpecializedInfer.Sampling;

namespace SpecializedInfer.Tests.Sampling;

public sealed class SamplerTests
{
    private static readonly float[] Logits = [1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f];

    [Fact]
    public void Greedy_takes_the_argmax_and_the_lowest_id_on_ties()
    {
        var sampler = new Sampler(SamplingOptions.Greedy, Logits.Length);
        Assert.Equal(1, sampler.Sample(Logits));
    }

    [Fact]
    public void Top_k_1_is_greedy_at_any_temperature()
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 5f, TopK = 1, Seed = 3 }, Logits.Length);
        for (var i = 0; i < 50; i++) Assert.Equal(1, sampler.Sample(Logits));
    }

    [Fact]
    public void The_same_seed_gives_the_same_draws_and_another_seed_other_draws()
    {
        int[] Draw(ulong seed)
        {
            var s = new Sampler(new SamplingOptions { Temperature = 1f, Seed = seed }, Logits.Length);
            return Enumerable.Range(0, 64).Select(_ => s.Sample(Logits)).ToArray();
        }
        Assert.Equal(Draw(9), Draw(9));
        Assert.NotEqual(Draw(9), Draw(10));
    }

    [Fact]
    public void Draws_follow_the_softmax_distribution()
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 1f, Seed = 1 }, Logits.Length);
        var counts = new int[Logits.Length];
        const int n = 60000;
        for (var i = 0; i < n; i++) counts[sampler.Sample(Logits)]++;
        var max = Logits.Max();
        var weights = Logits.Select(l => Math.Exp(l - max)).ToArray();
        var total = weights.Sum();
        for (var i = 0; i < Logits.Length; i++)
        {
            var p = weights[i] / total;
            var sigma = Math.Sqrt(n * p * (1 - p));
            Assert.InRange(counts[i], n * p - 5 * sigma - 1, n * p + 5 * sigma + 1);
        }
    }

    [Fact]
    public void Large_logits_at_a_low_temperature_follow_the_softmax_too()
    {
        // 12 / 0.1 = 120: past float exp's range (~88.7), so the distribution must be computed relative to the maximum.
        float[] logits = [12f, 11.5f, -3f, 11.9f];
        var sampler = new Sampler(new SamplingOptions { Temperature = 0.1f, Seed = 4 }, logits.Length);
        var counts = new int[logits.Length];
        const int n = 20000;
        for (var i = 0; i < n; i++) counts[sampler.Sample(logits)]++;
        var weights = logits.Select(l => Math.Exp((l - 12.0) / 0.1)).ToArray();
        for (var i = 0; i < logits.Length; i++)
        {
            var p = weights[i] / weights.Sum();
            var sigma = Math.Sqrt(n * p * (1 - p));
            Assert.InRange(counts[i], n * p - 5 * sigma - 1, n * p + 5 * sigma + 1);
        }
    }

    [Fact]
    public void Top_k_and_top_p_only_draw_from_the_kept_set()
    {
        // Probabilities at temperature 1: ids 1 and 3 hold ~0.63 together, id 2 ~0.23.
        var topK = new Sampler(new SamplingOptions { Temperature = 1f, TopK = 2, Seed = 2 }, Logits.Length);
        var topP = new Sampler(new SamplingOptions { Temperature = 1f, TopP = 0.5f, Seed = 2 }, Logits.Length);
        var seenK = new HashSet<int>();
        var seenP = new HashSet<int>();
        for (var i = 0; i < 2000; i++)
        {
            seenK.Add(topK.Sample(Logits));
            seenP.Add(topP.Sample(Logits));
        }
        Assert.Equal([1, 3], seenK.Order());
        Assert.Equal([1, 3], seenP.Order());
    }

    [Theory]
    [InlineData(-0.1f, 0, 1f)]
    [InlineData(float.NaN, 0, 1f)]
    [InlineData(1f, -1, 1f)]
    [InlineData(1f, 0, 0f)]
    [InlineData(1f, 0, 1.5f)]
    public void Invalid_options_are_rejected(float temperature, int topK, float topP) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP }, 4));
}
