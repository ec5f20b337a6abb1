using SpecializedInfer.Engine;
using SpecializedInfer.Evaluation;

namespace SpecializedInfer.Analysis;

/// <summary>
/// The negative log-likelihood of windows of text under a reference engine whose plan is static (no exits, skips or
/// shallow decoding: every token runs the whole schedule, so a window goes through in one batched pass, which gives
/// the same logits as feeding it token by token).
/// </summary>
public static class TextPerplexity
{
    public static TextNll Measure(ReferenceEngine engine, IReadOnlyList<int[]> windows)
    {
        if (engine.Schedule.HasDynamicDepth || engine.Schedule.DecodeDepth != engine.Schedule.Steps.Count)
            throw new ArgumentException("Batched perplexity needs a static plan: no exits, skip rules or decode depth.");
        var longest = windows.Max(w => w.Length);
        var vocab = engine.Config.VocabSize;
        var logits = new float[longest * vocab];
        using var session = (ReferenceSession)engine.CreateSession(longest);
        double nll = 0;
        long predictions = 0;
        foreach (var window in windows)
        {
            session.Rewind(0);
            var all = logits.AsSpan(0, window.Length * vocab);
            session.ForwardAll(window, all);
            for (var j = 0; j + 1 < window.Length; j++)
                nll += Divergence.NegativeLogLikelihood(all.Slice(j * vocab, vocab), window[j + 1]);
            predictions += window.Length - 1;
        }
        return new TextNll(nll, predictions);
    }
}
