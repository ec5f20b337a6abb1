using SpecializedInfer.Learning;

namespace SpecializedInfer.Tests.Learning;

/// <summary>RocAuc (ranks) against the definition, counted pair by pair here: P(positive scores above negative) + ½ P(tie).</summary>
public sealed class RocAucTests
{
    private static double ByPairs(double[] scores, bool[] labels)
    {
        double wins = 0;
        long pairs = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            if (!labels[i]) continue;
            for (var j = 0; j < scores.Length; j++)
            {
                if (labels[j]) continue;
                pairs++;
                wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
            }
        }
        return wins / pairs;
    }

    [Theory]
    [InlineData(1, 200, 0)]
    [InlineData(2, 500, 5)]   // heavy ties: scores take five values
    [InlineData(3, 1000, 0)]
    [InlineData(4, 50, 2)]
    public void Equals_the_pairwise_definition(int seed, int n, int levels)
    {
        var random = new Random(seed);
        var labels = Enumerable.Range(0, n).Select(_ => random.NextDouble() < 0.3).ToArray();
        var scores = labels.Select(l => (l ? 0.5 : 0) + random.NextDouble()).Select(s => levels > 0 ? Math.Round(s * levels) / levels : s).ToArray();
        Assert.Equal(ByPairs(scores, labels), RocAuc.Compute(scores, labels), 12);
    }

    [Fact]
    public void Known_values()
    {
        Assert.Equal(1.0, RocAuc.Compute([0.1, 0.2, 0.8, 0.9], [false, false, true, true]));
        Assert.Equal(0.0, RocAuc.Compute([0.1, 0.2, 0.8, 0.9], [true, true, false, false]));
        Assert.Equal(0.5, RocAuc.Compute([0.3, 0.3, 0.3, 0.3], [true, false, true, false]));
        Assert.Equal(0.75, RocAuc.Compute([0.1, 0.4, 0.35, 0.8], [false, false, true, true]));
    }

    [Fact]
    public void One_class_only_has_no_auc_and_nan_scores_are_refused()
    {
        Assert.True(double.IsNaN(RocAuc.Compute([0.1, 0.2], [true, true])));
        Assert.Throws<ArgumentException>(() => RocAuc.Compute([double.NaN, 0.2], [true, false]));
        Assert.Throws<ArgumentException>(() => RocAuc.Compute([0.1], [true, false]));
    }
}
