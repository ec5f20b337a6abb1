using System.Numerics.Tensors;
using SpecializedInfer.Models;

namespace SpecializedInfer.Engine;

/// <summary>
/// State of one sequence in the <see cref="ReferenceEngine"/>: KV cache and scratch buffers, all allocated up
/// front. The forward pass follows llama2.c's shape: embed, then per layer attention and SwiGLU feed-forward on
/// the residual stream, then the final norm and the output head.
/// </summary>
public sealed class ReferenceSession : IInferenceSession
{
    private readonly LlamaConfig _c;
    private readonly LlamaWeights _w;
    private readonly RopeTable _rope;
    private readonly float _attentionScale;

    // Residual stream and scratch.
    private readonly float[] _x, _xb, _q, _attnOut, _gate, _up, _scores, _logits;

    // KV cache: [layer][position][kvDim], one flat array per layer.
    private readonly float[][] _keys, _values;

    internal ReferenceSession(ReferenceEngine engine, int contextLength)
    {
        _c = engine.Config;
        _w = engine.Weights;
        ContextLength = contextLength > 0 ? contextLength : _c.ContextLength;
        _rope = new RopeTable(ContextLength, _c.RotaryDims, _c.RopeTheta);
        _attentionScale = 1f / MathF.Sqrt(_c.HeadDim);
        _x = new float[_c.Dim];
        _xb = new float[_c.Dim];
        _q = new float[_c.QueryDim];
        _attnOut = new float[_c.QueryDim];
        _gate = new float[_c.HiddenDim];
        _up = new float[_c.HiddenDim];
        _scores = new float[ContextLength];
        _logits = new float[_c.VocabSize];
        _keys = new float[_c.Layers][];
        _values = new float[_c.Layers][];
        for (var l = 0; l < _c.Layers; l++)
        {
            _keys[l] = new float[(long)ContextLength * _c.KvDim];
            _values[l] = new float[(long)ContextLength * _c.KvDim];
        }
    }

    public int Position { get; private set; }
    public int ContextLength { get; }
    public ILayerObserver? Observer { get; set; }

    public ReadOnlySpan<float> Forward(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty) throw new ArgumentException("At least one token is needed.", nameof(tokens));
        foreach (var t in tokens) Forward(t);
        return _logits;
    }

    public ReadOnlySpan<float> Forward(int token)
    {
        if ((uint)token >= (uint)_c.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"Token ids run from 0 to {_c.VocabSize - 1}.");
        if (Position >= ContextLength)
            throw new InvalidOperationException($"The session's context of {ContextLength} positions is full.");
        var pos = Position;

        _w.TokenEmbedding.Row(token).CopyTo(_x);
        for (var layer = 0; layer < _c.Layers; layer++)
        {
            RunLayer(layer, pos);
            Observer?.OnLayerOutput(pos, layer, layer, _x);
        }
        RmsNorm(_x, _w.OutputNorm.Span, _xb);
        MatVec(_w.Output, _xb, _logits);
        Position = pos + 1;
        return _logits;
    }

    public void Rewind(int position)
    {
        if (position < 0 || position > Position)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"Can rewind to 0..{Position}.");
        Position = position; // entries past the index are overwritten before they are read again
    }

    public void Dispose() { }

    private void RunLayer(int layer, int pos)
    {
        var w = _w.Layers[layer];
        int kvDim = _c.KvDim, headDim = _c.HeadDim;

        // Attention: project, rotate, append this position's K/V to the cache, attend over positions 0..pos.
        RmsNorm(_x, w.AttentionNorm.Span, _xb);
        MatVec(w.Query, _xb, _q);
        var k = _keys[layer].AsSpan(pos * kvDim, kvDim);
        var v = _values[layer].AsSpan(pos * kvDim, kvDim);
        MatVec(w.Key, _xb, k);
        MatVec(w.Value, _xb, v);
        _rope.Apply(_q, _c.Heads, headDim, pos);
        _rope.Apply(k, _c.KvHeads, headDim, pos);

        var scores = _scores.AsSpan(0, pos + 1);
        for (var h = 0; h < _c.Heads; h++)
        {
            var kvOffset = h / _c.HeadsPerKvHead * headDim; // grouped-query attention: heads share a KV head
            var qh = _q.AsSpan(h * headDim, headDim);
            for (var t = 0; t <= pos; t++)
                scores[t] = TensorPrimitives.Dot(qh, _keys[layer].AsSpan(t * kvDim + kvOffset, headDim)) * _attentionScale;
            TensorPrimitives.SoftMax(scores, scores);
            var outHead = _attnOut.AsSpan(h * headDim, headDim);
            outHead.Clear();
            for (var t = 0; t <= pos; t++)
                TensorPrimitives.MultiplyAdd(_values[layer].AsSpan(t * kvDim + kvOffset, headDim), scores[t], outHead, outHead);
        }
        MatVec(w.Output, _attnOut, _xb);
        TensorPrimitives.Add(_x, _xb, _x);

        // Feed-forward: SwiGLU, down(silu(gate(x)) * up(x)).
        RmsNorm(_x, w.FeedForwardNorm.Span, _xb);
        MatVec(w.Gate, _xb, _gate);
        MatVec(w.Up, _xb, _up);
        TensorPrimitives.Multiply(_up, _gate, _up);  // up * gate
        TensorPrimitives.Sigmoid(_gate, _gate);
        TensorPrimitives.Multiply(_gate, _up, _gate); // silu(gate) * up = gate * sigmoid(gate) * up
        MatVec(w.Down, _gate, _xb);
        TensorPrimitives.Add(_x, _xb, _x);
    }

    private void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> output)
    {
        var meanSquare = TensorPrimitives.SumOfSquares(x) / x.Length;
        var scale = 1f / MathF.Sqrt(meanSquare + _c.NormEps);
        TensorPrimitives.Multiply(x, scale, output);
        TensorPrimitives.Multiply(output, weight, output);
    }

    /// <summary>output[i] = dot(row i of W, x).</summary>
    private static void MatVec(WeightTensor w, ReadOnlySpan<float> x, Span<float> output)
    {
        for (var i = 0; i < w.Rows; i++)
            output[i] = TensorPrimitives.Dot(w.Row(i), x);
    }
}
