using System.Numerics.Tensors;

namespace SpecializedInfer.Evaluation;

/// <summary>
/// How close a plan's sentence embeddings stay to the full model's: the cosine of each pair, and retrieval agreement
/// (of a query's k nearest corpus sentences under the full model, the share the plan also ranks among its k nearest).
/// Cosines are single-precision (<see cref="TensorPrimitives.CosineSimilarity(ReadOnlySpan{float}, ReadOnlySpan{float})"/>),
/// summed and averaged in double. Ranking is by descending cosine, ties by corpus index, so it is deterministic.
/// </summary>
public static class RetrievalMeasures
{
    /// <summary>The cosine of each plan embedding with the full model's embedding of the same text.</summary>
    public static double[] Cosines(IReadOnlyList<float[]> plan, IReadOnlyList<float[]> full)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(full);
        if (plan.Count != full.Count) throw new ArgumentException($"The plan embedded {plan.Count} texts and the full model {full.Count}.");
        var result = new double[plan.Count];
        for (var i = 0; i < plan.Count; i++) result[i] = TensorPrimitives.CosineSimilarity(plan[i], full[i]);
        return result;
    }

    /// <summary>The indices of the <paramref name="k"/> corpus embeddings nearest <paramref name="query"/> by cosine, nearest first.</summary>
    public static int[] Nearest(IReadOnlyList<float[]> corpus, ReadOnlySpan<float> query, int k)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        if (k < 1) throw new ArgumentOutOfRangeException($"Recall@k needs k of at least 1, not {k}.", innerException: null);
        var scores = new float[corpus.Count];
        for (var i = 0; i < corpus.Count; i++) scores[i] = TensorPrimitives.CosineSimilarity(query, corpus[i]);
        var order = Enumerable.Range(0, corpus.Count).ToArray();
        Array.Sort(order, (a, b) => scores[a] != scores[b] ? scores[b].CompareTo(scores[a]) : a.CompareTo(b));
        return order[..Math.Min(k, order.Length)];
    }

    /// <summary>
    /// Recall@k of the plan against the full model: for each query, the share of the full model's k nearest corpus
    /// sentences (its queries against its corpus) that are among the plan's k nearest (the plan's queries against the
    /// plan's corpus), averaged over the queries. 1 when the plan retrieves exactly what the full model retrieves.
    /// </summary>
    public static double RecallAtK(IReadOnlyList<float[]> fullQueries, IReadOnlyList<float[]> fullCorpus,
        IReadOnlyList<float[]> planQueries, IReadOnlyList<float[]> planCorpus, int k)
    {
        ArgumentNullException.ThrowIfNull(fullQueries);
        ArgumentNullException.ThrowIfNull(planQueries);
        ArgumentNullException.ThrowIfNull(fullCorpus);
        ArgumentNullException.ThrowIfNull(planCorpus);
        if (fullQueries.Count != planQueries.Count || fullQueries.Count == 0)
            throw new ArgumentException($"Recall needs the same queries, at least one, from both models; found {fullQueries.Count} and {planQueries.Count}.");
        if (fullCorpus.Count != planCorpus.Count || fullCorpus.Count < k)
            throw new ArgumentException($"Recall@{k} needs the same corpus of at least {k} sentences from both models; found {fullCorpus.Count} and {planCorpus.Count}.");
        var sum = 0.0;
        for (var q = 0; q < fullQueries.Count; q++)
        {
            var expected = Nearest(fullCorpus, fullQueries[q], k);
            var found = new HashSet<int>(Nearest(planCorpus, planQueries[q], k));
            sum += (double)expected.Count(found.Contains) / k;
        }
        return sum / fullQueries.Count;
    }
}
