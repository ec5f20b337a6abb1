using SpecializedInfer.Models;

namespace SpecializedInfer.Analysis;

/// <summary>
/// Cosine similarity between the flattened weights of every two layers, per tensor kind: layers whose matrices point
/// the same way are candidates for running with one set of weights (<c>share</c>) or for merging.
/// </summary>
public static class WeightSimilarity
{
    /// <summary>The tensor kinds of a block, in GGUF's names, with the matrices marked.</summary>
    public static readonly IReadOnlyList<(string Kind, bool IsMatrix, Func<LlamaLayerWeights, WeightTensor> Tensor)> Kinds =
    [
        ("attn_norm", false, l => l.AttentionNorm), ("attn_q", true, l => l.Query), ("attn_k", true, l => l.Key),
        ("attn_v", true, l => l.Value), ("attn_output", true, l => l.Output), ("ffn_norm", false, l => l.FeedForwardNorm),
        ("ffn_gate", true, l => l.Gate), ("ffn_up", true, l => l.Up), ("ffn_down", true, l => l.Down),
    ];

    /// <summary>Every kind's layer-by-layer cosine matrix; every layer must be bound.</summary>
    public static List<TensorSimilarity> Measure(LlamaWeights weights)
    {
        var layers = weights.Config.Layers;
        var result = new List<TensorSimilarity>();
        foreach (var (kind, _, tensor) in Kinds)
        {
            var matrix = new double[layers][];
            for (var i = 0; i < layers; i++) matrix[i] = new double[layers];
            for (var i = 0; i < layers; i++)
            {
                matrix[i][i] = 1;
                for (var j = i + 1; j < layers; j++)
                    matrix[i][j] = matrix[j][i] = HiddenStates.Cosine(tensor(weights.Layer(i)).Span, tensor(weights.Layer(j)).Span);
            }
            result.Add(new TensorSimilarity(kind, matrix));
        }
        return result;
    }

    /// <summary>Layer pairs by the mean cosine of their weight matrices (norms left out), most similar first.</summary>
    public static List<SharingCandidate> Candidates(IReadOnlyList<TensorSimilarity> similarity)
    {
        var matrices = similarity.Where(s => Kinds.First(k => k.Kind == s.Kind).IsMatrix).ToList();
        var layers = matrices[0].Cosine.Length;
        var result = new List<SharingCandidate>();
        for (var i = 0; i < layers; i++)
            for (var j = i + 1; j < layers; j++)
                result.Add(new SharingCandidate(i, j, matrices.Average(m => m.Cosine[i][j])));
        return result.OrderByDescending(c => c.MeanMatrixCosine).ThenBy(c => c.LayerA).ThenBy(c => c.LayerB).ToList();
    }
}
