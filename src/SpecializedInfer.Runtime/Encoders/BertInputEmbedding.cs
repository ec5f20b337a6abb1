using System.Numerics.Tensors;

namespace SpecializedInfer.Encoders;

/// <summary>
/// The parts of the forward pass every encoder executor computes the same way, so the reference encoder and generated
/// encoders share them: the embedding layer (token + token type + position embeddings, LayerNorm) and LayerNorm itself.
/// </summary>
public static class BertInputEmbedding
{
    /// <summary>
    /// The embedding layer into <paramref name="x"/> (<c>[batch, length, dim]</c>), for token ids (and token types,
    /// all zeros when empty) laid out <c>[batch, length]</c>; ids, types and the length are checked against the model.
    /// </summary>
    public static void Apply(BertWeights w, ReadOnlySpan<int> ids, ReadOnlySpan<int> mask, ReadOnlySpan<int> tokenTypes, int batch, int length, Span<float> x)
    {
        var c = w.Config;
        var dim = c.Dim;
        var rows = batch * length;
        if (ids.Length < rows || mask.Length < rows || (!tokenTypes.IsEmpty && tokenTypes.Length < rows) || x.Length < rows * dim)
            throw new ArgumentException($"Token ids, mask and token types must hold batch × length = {rows} values and the output {rows * dim}.");
        if (length > c.ContextLength)
            throw new ArgumentException($"A sentence of {length} tokens is longer than the model's {c.ContextLength} positions.");
        for (var b = 0; b < batch; b++)
            for (var p = 0; p < length; p++)
            {
                var r = b * length + p;
                var id = ids[r];
                var type = tokenTypes.IsEmpty ? 0 : tokenTypes[r];
                if ((uint)id >= (uint)c.VocabSize) throw new ArgumentOutOfRangeException($"Token id {id} is outside the vocabulary: ids run from 0 to {c.VocabSize - 1}.", innerException: null);
                if ((uint)type >= (uint)c.TokenTypes) throw new ArgumentOutOfRangeException($"Token type {type} does not exist: types run from 0 to {c.TokenTypes - 1}.", innerException: null);
                var row = x.Slice(r * dim, dim);
                TensorPrimitives.Add(w.TokenEmbedding.AsSpan(id * dim, dim), w.TokenTypes.AsSpan(type * dim, dim), row);
                TensorPrimitives.Add(row, w.Positions.AsSpan(p * dim, dim), row);
                LayerNorm(row, w.EmbeddingNorm, c.NormEps);
            }
    }

    /// <summary>LayerNorm of one row in place: (x − mean) / √(variance + ε) · scale + shift.</summary>
    public static void LayerNorm(Span<float> row, BertNorm norm, float eps)
    {
        var mean = TensorPrimitives.Sum(row) / row.Length;
        TensorPrimitives.Subtract(row, mean, row);
        var variance = TensorPrimitives.SumOfSquares(row) / row.Length;
        TensorPrimitives.Multiply(row, 1f / MathF.Sqrt(variance + eps), row);
        TensorPrimitives.FusedMultiplyAdd(row, norm.Scale, norm.Shift, row);
    }
}
