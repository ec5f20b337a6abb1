using System.Numerics.Tensors;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Engine;

/// <summary>
/// State of one sequence in the <see cref="ReferenceEngine"/>: KV cache and scratch buffers, all allocated up
/// front. The forward pass follows llama2.c's shape (embed; per step attention and SwiGLU feed-forward on the
/// residual stream; final norm and output head), walking the plan's schedule as docs/plans.md defines it.
/// </summary>
public sealed class ReferenceSession : IInferenceSession
{
    private readonly LlamaConfig _c;
    private readonly LlamaWeights _w;
    private readonly ScheduleStep[] _steps;
    private readonly int _decodeDepth;
    private readonly RopeTable _rope;
    private readonly float _attentionScale;

    // Residual stream and scratch.
    private readonly float[] _x, _xb, _q, _attnOut, _gate, _up, _scores, _logits, _probe;

    // KV cache: [step][position][kvDim], one flat array per schedule step (a repeated layer has one per repeat).
    private readonly float[][] _keys, _values;

    internal ReferenceSession(ReferenceEngine engine, int contextLength)
    {
        _c = engine.Config;
        _w = engine.Weights;
        _steps = engine.Schedule.Steps.ToArray();
        _decodeDepth = engine.Schedule.DecodeDepth;
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
        _probe = new float[_c.VocabSize];
        _keys = new float[_steps.Length][];
        _values = new float[_steps.Length][];
        for (var s = 0; s < _steps.Length; s++)
        {
            _keys[s] = new float[(long)ContextLength * _c.KvDim];
            _values[s] = new float[(long)ContextLength * _c.KvDim];
        }
        Statistics = new SessionStatistics(_steps.Length);
    }

    public int Position { get; private set; }
    public int ContextLength { get; }
    public ILayerObserver? Observer { get; set; }
    public SessionStatistics Statistics { get; }

    public ReadOnlySpan<float> Forward(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty) throw new ArgumentException("At least one token is needed.", nameof(tokens));
        foreach (var t in tokens)
        {
            Run(t, _steps.Length, exitsEnabled: false);
            Statistics.RecordPrompt();
        }
        return _logits;
    }

    public ReadOnlySpan<float> Forward(int token) => Run(token, _decodeDepth, exitsEnabled: true);

    public void Rewind(int position)
    {
        if (position < 0 || position > Position)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"Can rewind to 0..{Position}.");
        Position = position; // entries past the index are overwritten before they are read again
    }

    public void Dispose() { }

    /// <summary>The cached key of schedule step <paramref name="step"/> at <paramref name="position"/> (for tests of KV filling).</summary>
    internal ReadOnlySpan<float> CachedKey(int step, int position) => _keys[step].AsSpan(position * _c.KvDim, _c.KvDim);

    /// <summary>The cached value of schedule step <paramref name="step"/> at <paramref name="position"/>.</summary>
    internal ReadOnlySpan<float> CachedValue(int step, int position) => _values[step].AsSpan(position * _c.KvDim, _c.KvDim);

    private ReadOnlySpan<float> Run(int token, int depth, bool exitsEnabled)
    {
        if ((uint)token >= (uint)_c.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"Token ids run from 0 to {_c.VocabSize - 1}.");
        if (Position >= ContextLength)
            throw new InvalidOperationException($"The session's context of {ContextLength} positions is full.");
        var pos = Position;

        _w.TokenEmbedding.Row(token).CopyTo(_x);
        var ran = depth;
        var exitStep = -1;
        var logitsReady = false;
        for (var s = 0; s < depth; s++)
        {
            var step = _steps[s];
            RunStep(step, pos);
            Observer?.OnLayerOutput(pos, s, step.Layer, _x);
            if (exitsEnabled && step.ExitAfter is { } exit)
            {
                Head(_x, _logits);
                logitsReady = true;
                if (ShouldExit(exit, _logits))
                {
                    ran = s + 1;
                    exitStep = s;
                    break;
                }
                logitsReady = s == depth - 1;
            }
        }
        if (!logitsReady) Head(_x, _logits);

        // Steps this token did not run still need its K/V at this position for deeper tokens later.
        for (var s = ran; s < _steps.Length; s++) PropagateKv(_steps[s], pos);

        if (exitsEnabled) Statistics.RecordGenerated(ran, exitStep);
        Position = pos + 1;
        return _logits;
    }

    private bool ShouldExit(ExitPoint exit, ReadOnlySpan<float> logits) => exit.Criterion switch
    {
        ExitCriterion.MaxProbability => MaxProbability(logits) >= exit.Threshold,
        _ => throw new NotSupportedException($"Exit criterion {exit.Criterion} is not implemented."),
    };

    /// <summary>max softmax(logits) = 1 / Σ exp(l - max).</summary>
    private float MaxProbability(ReadOnlySpan<float> logits)
    {
        var max = TensorPrimitives.Max(logits);
        TensorPrimitives.Subtract(logits, max, _probe);
        TensorPrimitives.Exp(_probe, _probe);
        return 1f / TensorPrimitives.Sum(_probe);
    }

    private void Head(ReadOnlySpan<float> hidden, Span<float> logits)
    {
        RmsNorm(hidden, _w.OutputNorm.Span, _xb);
        MatVec(_w.Output, _xb, logits);
    }

    /// <summary>CALM state propagation: the K/V step <paramref name="step"/> would have stored had it received the current hidden state.</summary>
    private void PropagateKv(ScheduleStep step, int pos)
    {
        var w = _w.Layer(step.WeightsOf);
        var kvDim = _c.KvDim;
        RmsNorm(_x, w.AttentionNorm.Span, _xb);
        var k = _keys[step.Index].AsSpan(pos * kvDim, kvDim);
        MatVec(w.Key, _xb, k);
        MatVec(w.Value, _xb, _values[step.Index].AsSpan(pos * kvDim, kvDim));
        _rope.Apply(k, _c.KvHeads, _c.HeadDim, pos);
    }

    private void RunStep(ScheduleStep step, int pos)
    {
        var w = _w.Layer(step.WeightsOf);
        int kvDim = _c.KvDim, headDim = _c.HeadDim;
        var keys = _keys[step.Index];
        var values = _values[step.Index];

        // Attention: project, rotate, append this position's K/V to the step's cache, attend over positions 0..pos.
        RmsNorm(_x, w.AttentionNorm.Span, _xb);
        MatVec(w.Query, _xb, _q);
        var k = keys.AsSpan(pos * kvDim, kvDim);
        MatVec(w.Key, _xb, k);
        MatVec(w.Value, _xb, values.AsSpan(pos * kvDim, kvDim));
        _rope.Apply(_q, _c.Heads, headDim, pos);
        _rope.Apply(k, _c.KvHeads, headDim, pos);

        var scores = _scores.AsSpan(0, pos + 1);
        for (var h = 0; h < _c.Heads; h++)
        {
            var kvOffset = h / _c.HeadsPerKvHead * headDim; // grouped-query attention: heads share a KV head
            var qh = _q.AsSpan(h * headDim, headDim);
            for (var t = 0; t <= pos; t++)
                scores[t] = TensorPrimitives.Dot(qh, keys.AsSpan(t * kvDim + kvOffset, headDim)) * _attentionScale;
            TensorPrimitives.SoftMax(scores, scores);
            var outHead = _attnOut.AsSpan(h * headDim, headDim);
            outHead.Clear();
            for (var t = 0; t <= pos; t++)
                TensorPrimitives.MultiplyAdd(values.AsSpan(t * kvDim + kvOffset, headDim), scores[t], outHead, outHead);
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
