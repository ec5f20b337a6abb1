using SpecializedInfer.Evaluation;

namespace SpecializedInfer.Tests.Evaluation;

/// <summary>
/// The embedding measures against computations written here: cosines in double from their definition, neighbours
/// ranked with LINQ, recall counted by set intersection; and one case small enough to work out by hand.
/// </summary>
public sealed class RetrievalMeasuresTests
{
    [Fact]
    public void A_hand_worked_case()
    {
        // Corpus on the unit circle at 0°, 30°, 60°, 90°, 180°. The full model's query at 10° ranks 0°, 30°, 60°, ...;
        // the plan moved its query to 80°, which ranks 90°, 60°, 30°, ...: of the full model's two nearest (0°, 30°)
        // the plan's two nearest (90°, 60°) keep none; of its three nearest (0°, 30°, 60°) the plan's three keep 30° and
        // 60°: recall@3 = 2/3.
        float[] At(double degrees) => [(float)Math.Cos(degrees * Math.PI / 180), (float)Math.Sin(degrees * Math.PI / 180)];
        var corpus = new[] { At(0), At(30), At(60), At(90), At(180) };
        Assert.Equal([0, 1, 2], RetrievalMeasures.Nearest(corpus, At(10), 3));
        Assert.Equal([3, 2, 1], RetrievalMeasures.Nearest(corpus, At(80), 3));
        Assert.Equal(0.0, RetrievalMeasures.RecallAtK([At(10)], corpus, [At(80)], corpus, 2));
        Assert.Equal(2.0 / 3, RetrievalMeasures.RecallAtK([At(10)], corpus, [At(80)], corpus, 3), 12);
        // Two queries, one retrieved identically (170°: 180°, 90°, 60° for both) and one not: the mean.
        Assert.Equal((1.0 + 2.0 / 3) / 2, RetrievalMeasures.RecallAtK([At(10), At(170)], corpus, [At(80), At(170)], corpus, 3), 12);
        // cos(0°, 30°) and cos(90°, 90°).
        var cosines = RetrievalMeasures.Cosines([At(0), At(90)], [At(30), At(90)]);
        Assert.Equal(Math.Sqrt(3) / 2, cosines[0], 6);
        Assert.Equal(1.0, cosines[1], 6);
    }

    [Fact]
    public void Random_embeddings_against_a_direct_computation()
    {
        var random = new Random(5);
        float[] Vector(int dim) => [.. Enumerable.Range(0, dim).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        float[] Nudge(float[] v, double amount) => [.. v.Select(x => (float)(x + amount * (random.NextDouble() * 2 - 1)))];
        const int dim = 12, corpusSize = 80, queries = 15, k = 10;
        var fullCorpus = Enumerable.Range(0, corpusSize).Select(_ => Vector(dim)).ToList();
        var fullQueries = Enumerable.Range(0, queries).Select(_ => Vector(dim)).ToList();
        // The "plan" moves every embedding a little: some neighbours change, most stay.
        var planCorpus = fullCorpus.Select(v => Nudge(v, 0.3)).ToList();
        var planQueries = fullQueries.Select(v => Nudge(v, 0.3)).ToList();

        static double Cos(float[] a, float[] b)
        {
            double dot = 0, na = 0, nb = 0;
            for (var i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
            return dot / Math.Sqrt(na * nb);
        }
        static List<int> Top(List<float[]> corpus, float[] q, int k) =>
            [.. corpus.Select((c, i) => (Score: Cos(q, c), Index: i)).OrderByDescending(x => x.Score).ThenBy(x => x.Index).Take(k).Select(x => x.Index)];

        var expectedRecall = Enumerable.Range(0, queries)
            .Average(q => Top(fullCorpus, fullQueries[q], k).Intersect(Top(planCorpus, planQueries[q], k)).Count() / (double)k);
        var recall = RetrievalMeasures.RecallAtK(fullQueries, fullCorpus, planQueries, planCorpus, k);
        Assert.Equal(expectedRecall, recall, 12);
        Assert.InRange(recall, 0.3, 0.95); // the nudge changed some neighbours and kept most: the test discriminates

        var expectedCosines = planCorpus.Zip(fullCorpus, Cos).ToList();
        var cosines = RetrievalMeasures.Cosines(planCorpus, fullCorpus);
        for (var i = 0; i < corpusSize; i++) Assert.Equal(expectedCosines[i], cosines[i], 5);
        for (var q = 0; q < queries; q++) Assert.Equal(Top(fullCorpus, fullQueries[q], k), RetrievalMeasures.Nearest(fullCorpus, fullQueries[q], k));
    }

    [Fact]
    public void Mismatched_inputs_are_refused()
    {
        float[][] three = [[1, 0], [0, 1], [1, 1]];
        Assert.Throws<ArgumentException>(() => RetrievalMeasures.Cosines(three, three[..2]));
        Assert.Throws<ArgumentException>(() => RetrievalMeasures.RecallAtK([[1, 0]], three, [[1, 0]], three, 4));
        Assert.Throws<ArgumentException>(() => RetrievalMeasures.RecallAtK([[1, 0]], three, [], three, 2));
    }
}
