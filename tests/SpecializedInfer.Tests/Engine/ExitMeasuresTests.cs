using SpecializedInfer.Engine;

namespace SpecializedInfer.Tests.Engine;

/// <summary>The shared exit measures against a plain double-precision computation of the same definitions.</summary>
public sealed class ExitMeasuresTests
{
    public static TheoryData<int, int, double> Cases => new()
    {
        // seed, vocabulary size, logit scale (small: flat distributions; large: peaked ones)
        { 1, 512, 0.5 }, { 2, 512, 4 }, { 3, 513, 12 }, { 4, 32000, 3 }, { 5, 7, 30 }, { 6, 2, 1 },
    };

    private static float[] Logits(int seed, int vocab, double scale)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, vocab).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    private static double[] Softmax(float[] logits)
    {
        var max = logits.Max();
        var e = logits.Select(l => Math.Exp(l - (double)max)).ToArray();
        var sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Softmax_measures_match_their_definitions(int seed, int vocab, double scale)
    {
        var logits = Logits(seed, vocab, scale);
        var p = Softmax(logits);
        var sorted = p.OrderDescending().ToArray();
        var scratch = new float[vocab];

        Assert.Equal(sorted[0], ExitMeasures.MaxProbability(logits, scratch), 5);
        Assert.Equal(sorted[0] - sorted[1], ExitMeasures.Margin(logits, scratch), 5);
        Assert.Equal(-p.Where(x => x > 0).Sum(x => x * Math.Log(x)), ExitMeasures.Entropy(logits, scratch), 4);
        Assert.Equal(Array.IndexOf(p, sorted[0]), ExitMeasures.ArgMax(logits));
    }

    [Fact]
    public void Extremes_are_exact_enough_to_threshold()
    {
        var scratch = new float[4];
        float[] uniform = [1, 1, 1, 1];
        Assert.Equal(0.25f, ExitMeasures.MaxProbability(uniform, scratch), 6);
        Assert.Equal(0f, ExitMeasures.Margin(uniform, scratch), 6);
        Assert.Equal(Math.Log(4), ExitMeasures.Entropy(uniform, scratch), 5);
        float[] certain = [0, 200, 0, 0];
        Assert.Equal(1f, ExitMeasures.MaxProbability(certain, scratch), 6); // vectorized exp(0) may be one ulp below 1
        Assert.Equal(1f, ExitMeasures.Margin(certain, scratch), 6);
        Assert.Equal(0f, ExitMeasures.Entropy(certain, scratch), 5);
        Assert.Equal(1, ExitMeasures.ArgMax(certain));
        float[] tie = [3, 5, 5, 1];
        Assert.Equal(1, ExitMeasures.ArgMax(tie)); // the first maximum, as greedy sampling picks
        Assert.Equal(0f, ExitMeasures.Margin(tie, scratch));
    }

    [Fact]
    public void Cosine_and_probe_match_their_definitions()
    {
        var random = new Random(7);
        var a = Enumerable.Range(0, 64).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var b = a.Select(x => x * 3 + (float)random.NextDouble() * 0.1f).ToArray();
        var w = Enumerable.Range(0, 64).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();

        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < 64; i++) { dot += a[i] * (double)b[i]; na += a[i] * (double)a[i]; nb += b[i] * (double)b[i]; }
        Assert.Equal(dot / Math.Sqrt(na * nb), ExitMeasures.Cosine(a, b), 5);
        Assert.Equal(1f, ExitMeasures.Cosine(a, a.Select(x => x * 2).ToArray()), 5);
        Assert.Equal(0f, ExitMeasures.Cosine(a, new float[64]));

        const float eps = 1e-5f, bias = -0.3f;
        var rms = Math.Sqrt(a.Sum(x => x * (double)x) / 64 + eps);
        var z = bias + a.Select((x, i) => x / rms * w[i]).Sum();
        Assert.Equal(1 / (1 + Math.Exp(-z)), ExitMeasures.Probe(a, w, bias, eps), 5);
        // The probe reads the direction of the state, not its size: RMS normalization makes it scale-free.
        Assert.Equal(ExitMeasures.Probe(a, w, bias, 0), ExitMeasures.Probe(a.Select(x => x * 40).ToArray(), w, bias, 0), 5);
    }
}
