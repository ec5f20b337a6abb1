namespace SpecializedInfer.Analysis;

/// <summary>
/// A token stream cut into windows as <c>si eval</c> measures perplexity (<see cref="Evaluation.QualityEvaluator.Perplexity"/>):
/// consecutive windows of at most n tokens, each evaluated from an empty cache; a window's first token predicts the
/// second and is itself not predicted; a lone trailing token predicts nothing and is dropped.
/// </summary>
public static class TextWindows
{
    public static List<int[]> Split(IReadOnlyList<int> tokens, int window)
    {
        if (window < 2) throw new ArgumentOutOfRangeException($"A window holds at least two tokens, not {window}.", innerException: null);
        if (tokens.Count < 2) throw new ArgumentException("Perplexity needs at least two tokens.");
        var result = new List<int[]>();
        for (var start = 0; start + 1 < tokens.Count; start += window)
            result.Add(tokens.Skip(start).Take(Math.Min(window, tokens.Count - start)).ToArray());
        return result;
    }
}
