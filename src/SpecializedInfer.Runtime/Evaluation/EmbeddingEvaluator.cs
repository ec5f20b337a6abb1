using System.Diagnostics;
using Microsoft.Extensions.AI;

namespace SpecializedInfer.Evaluation;

/// <summary>
/// Measures a planned encoder against the full model on a corpus and queries: the cosine of every text's embedding
/// to the full model's, recall@k of the plan's nearest neighbours against the full model's (<see cref="RetrievalMeasures"/>),
/// the steps each sentence ran, and the speed of both over the corpus. Works through Microsoft.Extensions.AI's
/// <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> only, so any encoder engine is measured alike; the steps a
/// sentence ran are read from each embedding's <see cref="StepsProperty"/> when the engine reports it.
/// </summary>
public sealed class EmbeddingEvaluator(IEmbeddingGenerator<string, Embedding<float>> full, IEmbeddingGenerator<string, Embedding<float>> plan, int k = 10, int speedRuns = 2)
{
    /// <summary>The <see cref="AdditionalPropertiesDictionary"/> key of the number of plan steps a sentence ran.</summary>
    public const string StepsProperty = "steps";

    public EmbeddingReport Evaluate(IReadOnlyList<string> corpus, IReadOnlyList<string> queries, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(queries);
        if (k < 1) throw new ArgumentOutOfRangeException($"Recall@k needs k of at least 1, not {k}.", innerException: null);
        if (speedRuns < 1) throw new ArgumentOutOfRangeException($"The speed is measured over at least one run, not {speedRuns}.", innerException: null);
        if (corpus.Count < k) throw new ArgumentException($"Recall@{k} needs a corpus of at least {k} sentences; found {corpus.Count}.");
        if (queries.Count == 0) throw new ArgumentException("Recall needs at least one query.");

        var texts = corpus.Concat(queries).ToList();
        var fullEmbeddings = Embed(full, texts, cancellation);
        var planEmbeddings = Embed(plan, texts, cancellation);
        var cosines = RetrievalMeasures.Cosines(Vectors(planEmbeddings), Vectors(fullEmbeddings));
        var recall = RetrievalMeasures.RecallAtK(
            Vectors(fullEmbeddings.Skip(corpus.Count)), Vectors(fullEmbeddings.Take(corpus.Count)),
            Vectors(planEmbeddings.Skip(corpus.Count)), Vectors(planEmbeddings.Take(corpus.Count)), k);

        // Speed: the corpus embedded again by each, interleaved, the fastest of speedRuns runs each (the quality
        // pass above warmed both up).
        var fullSeconds = double.MaxValue;
        var planSeconds = double.MaxValue;
        for (var run = 0; run < speedRuns; run++)
        {
            fullSeconds = Math.Min(fullSeconds, Time(full, corpus, cancellation));
            planSeconds = Math.Min(planSeconds, Time(plan, corpus, cancellation));
        }
        var steps = planEmbeddings.Select(Steps).ToArray();
        return new EmbeddingReport(corpus.Count, queries.Count, k, cosines.Average(), cosines.Min(), recall,
            new EncoderSpeed(corpus.Count, fullSeconds), new EncoderSpeed(corpus.Count, planSeconds),
            steps.All(s => s is not null) ? steps.Select(s => s!.Value).ToArray() : null);
    }

    private static List<Embedding<float>> Embed(IEmbeddingGenerator<string, Embedding<float>> generator, IReadOnlyList<string> texts, CancellationToken cancellation)
    {
        var result = generator.GenerateAsync(texts, cancellationToken: cancellation).GetAwaiter().GetResult();
        if (result.Count != texts.Count) throw new InvalidOperationException($"The encoder returned {result.Count} embeddings for {texts.Count} texts.");
        return [.. result];
    }

    private static double Time(IEmbeddingGenerator<string, Embedding<float>> generator, IReadOnlyList<string> texts, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        Embed(generator, texts, cancellation);
        return clock.Elapsed.TotalSeconds;
    }

    private static List<float[]> Vectors(IEnumerable<Embedding<float>> embeddings) => [.. embeddings.Select(e => e.Vector.ToArray())];

    private static int? Steps(Embedding<float> e) =>
        e.AdditionalProperties?.TryGetValue(StepsProperty, out var value) == true && value is int steps ? steps : null;
}

/// <summary>Sentences embedded in a time.</summary>
public sealed record EncoderSpeed(int Sentences, double Seconds)
{
    public double SentencesPerSecond => Sentences / Seconds;
}

/// <summary>
/// A plan's embeddings against the full model's (<see cref="EmbeddingEvaluator"/>).
/// </summary>
/// <param name="CorpusSize">corpus sentences</param>
/// <param name="Queries">queries</param>
/// <param name="K">neighbours compared per query</param>
/// <param name="MeanCosine">mean cosine between each text's plan and full embeddings, over the corpus and the queries</param>
/// <param name="MinCosine">the smallest of those cosines</param>
/// <param name="Recall">recall@<paramref name="K"/> of the plan's nearest corpus sentences against the full model's, averaged over the queries</param>
/// <param name="Full">the full model's speed over the corpus</param>
/// <param name="Plan">the plan's speed over the corpus</param>
/// <param name="StepsPerText">the plan steps each text (corpus, then queries) ran, when the engine reports it</param>
public sealed record EmbeddingReport(int CorpusSize, int Queries, int K, double MeanCosine, double MinCosine, double Recall,
    EncoderSpeed Full, EncoderSpeed Plan, IReadOnlyList<int>? StepsPerText)
{
    public double Speedup => Plan.SentencesPerSecond / Full.SentencesPerSecond;

    /// <summary>The mean number of plan steps a text ran (NaN when the engine does not say).</summary>
    public double MeanSteps => StepsPerText is { Count: > 0 } s ? s.Average() : double.NaN;
}
