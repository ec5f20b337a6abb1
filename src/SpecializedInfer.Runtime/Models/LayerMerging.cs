using System.Numerics.Tensors;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Models;

/// <summary>
/// LaCo's "reserving differences while seeking common" layer merge: every tensor of the merged layer is
/// θ_first + Σ_k (θ_first+k − θ_first), k = 1 .. count − 1. Computed once here, in single precision and in this order
/// (each difference rounded, then added), so the reference engine merging at load and <c>si compact</c> writing the
/// merged tensors produce the same bits.
/// </summary>
public static class LayerMerging
{
    /// <summary>The merged values of one tensor, given that tensor in each merged layer (the first layer's first).</summary>
    public static void Merge(IReadOnlyList<WeightTensor> layers, Span<float> merged)
    {
        if (layers.Count < 2) throw new ArgumentException("A merge needs at least two layers.");
        var first = layers[0].Span;
        if (merged.Length != first.Length) throw new ArgumentException($"Need room for {first.Length} values.");
        first.CopyTo(merged);
        var difference = new float[first.Length];
        for (var k = 1; k < layers.Count; k++)
        {
            TensorPrimitives.Subtract(layers[k].Span, first, difference);
            TensorPrimitives.Add(merged, difference, merged);
        }
    }

    /// <summary>
    /// The merged weights of <paramref name="merge"/> in pinned arrays (added to <paramref name="keepAlive"/>, which
    /// must live as long as the weights are used); every source layer must be bound in <paramref name="weights"/>.
    /// </summary>
    public static unsafe LlamaLayerWeights Merge(LlamaWeights weights, LayerMerge merge, List<float[]> keepAlive)
    {
        var sources = merge.Sources.Select(weights.Layer).ToList();
        WeightTensor One(Func<LlamaLayerWeights, WeightTensor> tensor)
        {
            var parts = sources.Select(tensor).ToList();
            var data = GC.AllocateUninitializedArray<float>(parts[0].Length, pinned: true);
            Merge(parts, data);
            keepAlive.Add(data);
            fixed (float* p = data) return new WeightTensor(p, parts[0].Rows, parts[0].Cols); // pinned: the address stays
        }
        return new LlamaLayerWeights(
            One(l => l.AttentionNorm), One(l => l.Query), One(l => l.Key), One(l => l.Value), One(l => l.Output),
            One(l => l.FeedForwardNorm), One(l => l.Gate), One(l => l.Up), One(l => l.Down))
        {
            // Qwen2's projection biases are parameters of the layer like its matrices: merged by the same rule.
            Biases = sources[0].Biases is null
                ? null
                : new ProjectionBiases(One(l => l.Biases!.Query), One(l => l.Biases!.Key), One(l => l.Biases!.Value)),
        };
    }
}
