using System.Numerics.Tensors;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Engine;

/// <summary>
/// State of one sequence in the <see cref="ReferenceEngine"/>: KV cache and scratch buffers, all allocated up
/// front. The forward pass follows llama2.c's shape (embed; per step attention and SwiGLU feed-forward on the
/// residual stream; final norm and output head), walking the plan's schedule as docs/plans.md defines it.
/// Prompt tokens go through in chunks of up to <see cref="MaxBatch"/> positions so each weight row is read once
/// per chunk; every position's arithmetic is the same, in the same order, as when it runs alone, so batched and
/// one-at-a-time evaluation give bit-identical results.
/// </summary>
public partial class ReferenceSession : IInferenceSession
{
    public const int MaxBatch = 16;

    private readonly LlamaConfig _c;
    private readonly LlamaWeights _w;
    private readonly ScheduleStep[] _steps;
    private readonly int _decodeDepth;
    private readonly RopeTable _rope;
    private readonly float _attentionScale;

    // Residual stream and scratch, one row per batched position.
    private readonly float[] _x, _xb, _q, _attnOut, _gate, _up, _scores, _logits, _probe;

    // KV cache: [step][position][kvDim], one flat array per schedule step (a repeated layer has one per repeat).
    private readonly float[][] _keys, _values;

    internal ReferenceSession(ReferenceEngine engine, int contextLength)
    {
        _c = engine.Config;
        _w = engine.Weights;
        _steps = ForwardSteps(engine.Schedule);
        _decodeDepth = engine.Schedule.DecodeDepth;
        ContextLength = contextLength > 0 ? contextLength : _c.ContextLength;
        _rope = new RopeTable(ContextLength, _c.RotaryDims, _c.RopeTheta);
        _attentionScale = 1f / MathF.Sqrt(_c.HeadDim);
        _x = new float[MaxBatch * _c.Dim];
        _xb = new float[MaxBatch * _c.Dim];
        _q = new float[MaxBatch * _c.QueryDim];
        _attnOut = new float[MaxBatch * _c.QueryDim];
        _gate = new float[MaxBatch * _c.HiddenDim];
        _up = new float[MaxBatch * _c.HiddenDim];
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

    public ReadOnlySpan<float> Forward(ReadOnlySpan<int> tokens) => ForwardAll(tokens, allLogits: default);

    /// <summary>
    /// Evaluates prompt tokens at full depth; when <paramref name="allLogits"/> is not empty it receives the logits
    /// of every position (tokens.Length × vocab), which is what verifying drafted tokens needs.
    /// </summary>
    public ReadOnlySpan<float> ForwardAll(ReadOnlySpan<int> tokens, Span<float> allLogits)
    {
        if (tokens.IsEmpty) throw new ArgumentException("At least one token is needed.", nameof(tokens));
        var vocab = _c.VocabSize;
        if (!allLogits.IsEmpty && allLogits.Length != tokens.Length * vocab)
            throw new ArgumentException($"Need room for {tokens.Length} × {vocab} logits.", nameof(allLogits));
        CheckTokens(tokens);
        for (var start = 0; start < tokens.Length; start += MaxBatch)
        {
            var chunk = tokens.Slice(start, Math.Min(MaxBatch, tokens.Length - start));
            var pos = Position;
            for (var j = 0; j < chunk.Length; j++) _w.TokenEmbedding.Row(chunk[j]).CopyTo(Row(_x, j, _c.Dim));
            for (var s = 0; s < _steps.Length; s++)
            {
                RunStep(_steps[s], pos, chunk.Length);
                if (Observer is { } observer)
                    for (var j = 0; j < chunk.Length; j++) observer.OnLayerOutput(pos + j, s, _steps[s].Layer, Row(_x, j, _c.Dim));
            }
            for (var j = 0; j < chunk.Length; j++)
            {
                if (!allLogits.IsEmpty) Head(Row(_x, j, _c.Dim), allLogits.Slice((start + j) * vocab, vocab));
                Statistics.RecordPrompt();
            }
            Position = pos + chunk.Length;
        }
        if (allLogits.IsEmpty) Head(Row(_x, (tokens.Length - 1) % MaxBatch, _c.Dim), _logits);
        else allLogits.Slice((tokens.Length - 1) * vocab, vocab).CopyTo(_logits);
        return _logits;
    }

    public ReadOnlySpan<float> Forward(int token)
    {
        CheckTokens([token]);
        var pos = Position;
        var x = Row(_x, 0, _c.Dim);
        _w.TokenEmbedding.Row(token).CopyTo(x);
        var ran = _decodeDepth;
        var exitStep = -1;
        var logitsReady = false;
        for (var s = 0; s < _decodeDepth; s++)
        {
            var step = _steps[s];
            RunStep(step, pos, count: 1);
            Observer?.OnLayerOutput(pos, s, step.Layer, x);
            if (step.ExitAfter is { } exit)
            {
                Head(x, _logits);
                logitsReady = true;
                if (ShouldExit(exit, _logits))
                {
                    ran = s + 1;
                    exitStep = s;
                    break;
                }
                logitsReady = s == _decodeDepth - 1;
            }
        }
        if (!logitsReady) Head(x, _logits);

        // Steps this token did not run still need its K/V at this position for deeper tokens later.
        for (var s = ran; s < _steps.Length; s++) PropagateKv(_steps[s], pos);

        Statistics.RecordGenerated(ran, exitStep);
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

    /// <summary>The cached key of schedule step <paramref name="step"/> at <paramref name="position"/> (for tests of KV filling).</summary>
    internal ReadOnlySpan<float> CachedKey(int step, int position) => _keys[step].AsSpan(position * _c.KvDim, _c.KvDim);

    /// <summary>The cached value of schedule step <paramref name="step"/> at <paramref name="position"/>.</summary>
    internal ReadOnlySpan<float> CachedValue(int step, int position) => _values[step].AsSpan(position * _c.KvDim, _c.KvDim);

    private void CheckTokens(ReadOnlySpan<int> tokens)
    {
        foreach (var token in tokens)
            if ((uint)token >= (uint)_c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), token, $"Token ids run from 0 to {_c.VocabSize - 1}.");
        if (tokens.Length > ContextLength - Position)
            throw new InvalidOperationException($"The session's context of {ContextLength} positions is full.");
    }

    private static Span<float> Row(float[] buffer, int row, int width) => buffer.AsSpan(row * width, width);

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

    /// <summary>Final norm and output matrix: logits of one hidden state (uses the scratch row 0 of <c>_xb</c>).</summary>
    private void Head(ReadOnlySpan<float> hidden, Span<float> logits)
    {
        var normed = Row(_xb, 0, _c.Dim);
        RmsNorm(hidden, _w.OutputNorm.Span, normed);
        MatMul(_w.Output, normed, logits, 1);
    }

    /// <summary>CALM state propagation: the K/V step <paramref name="step"/> would have stored had it received the current hidden state.</summary>
    private void PropagateKv(ScheduleStep step, int pos)
    {
        var w = _w.Layer(step.WeightsOf);
        var kvDim = _c.KvDim;
        var xb = Row(_xb, 0, _c.Dim);
        RmsNorm(Row(_x, 0, _c.Dim), w.AttentionNorm.Span, xb);
        var k = _keys[step.Index].AsSpan(pos * kvDim, kvDim);
        MatMul(w.Key, xb, k, 1);
        MatMul(w.Value, xb, _values[step.Index].AsSpan(pos * kvDim, kvDim), 1);
        _rope.Apply(k, _c.KvHeads, _c.HeadDim, pos);
    }

    /// <summary>One schedule step for <paramref name="count"/> consecutive positions starting at <paramref name="pos"/>.</summary>
    private void RunStep(ScheduleStep step, int pos, int count)
    {
        var w = _w.Layer(step.WeightsOf);
        int dim = _c.Dim, kvDim = _c.KvDim, qDim = _c.QueryDim, hidden = _c.HiddenDim, headDim = _c.HeadDim;
        var keys = _keys[step.Index];
        var values = _values[step.Index];
        var x = _x.AsSpan(0, count * dim);
        var xb = _xb.AsSpan(0, count * dim);

        // Attention: project, rotate, append the positions' K/V to the step's cache (contiguous rows), attend.
        for (var j = 0; j < count; j++) RmsNorm(Row(_x, j, dim), w.AttentionNorm.Span, Row(_xb, j, dim));
        MatMul(w.Query, xb, _q.AsSpan(0, count * qDim), count);
        MatMul(w.Key, xb, keys.AsSpan(pos * kvDim, count * kvDim), count);
        MatMul(w.Value, xb, values.AsSpan(pos * kvDim, count * kvDim), count);
        for (var j = 0; j < count; j++)
        {
            _rope.Apply(Row(_q, j, qDim), _c.Heads, headDim, pos + j);
            _rope.Apply(keys.AsSpan((pos + j) * kvDim, kvDim), _c.KvHeads, headDim, pos + j);
        }
        for (var j = 0; j < count; j++) Attend(keys, values, Row(_q, j, qDim), Row(_attnOut, j, qDim), pos + j);
        MatMul(w.Output, _attnOut.AsSpan(0, count * qDim), xb, count);
        TensorPrimitives.Add(x, xb, x);

        // Feed-forward: SwiGLU, down(silu(gate(x)) * up(x)).
        for (var j = 0; j < count; j++) RmsNorm(Row(_x, j, dim), w.FeedForwardNorm.Span, Row(_xb, j, dim));
        var gate = _gate.AsSpan(0, count * hidden);
        var up = _up.AsSpan(0, count * hidden);
        MatMul(w.Gate, xb, gate, count);
        MatMul(w.Up, xb, up, count);
        TensorPrimitives.Multiply(up, gate, up);  // up * gate
        TensorPrimitives.Sigmoid(gate, gate);
        TensorPrimitives.Multiply(gate, up, gate); // silu(gate) * up = gate * sigmoid(gate) * up
        MatMul(w.Down, gate, xb, count);
        TensorPrimitives.Add(x, xb, x);
    }

    /// <summary>Causal attention of one query (at <paramref name="pos"/>) over cached positions 0..pos, per head.</summary>
    private void Attend(float[] keys, float[] values, ReadOnlySpan<float> q, Span<float> output, int pos)
    {
        int kvDim = _c.KvDim, headDim = _c.HeadDim;
        var scores = _scores.AsSpan(0, pos + 1);
        for (var h = 0; h < _c.Heads; h++)
        {
            var kvOffset = h / _c.HeadsPerKvHead * headDim; // grouped-query attention: heads share a KV head
            var qh = q.Slice(h * headDim, headDim);
            for (var t = 0; t <= pos; t++)
                scores[t] = TensorPrimitives.Dot(qh, keys.AsSpan(t * kvDim + kvOffset, headDim)) * _attentionScale;
            TensorPrimitives.SoftMax(scores, scores);
            var outHead = output.Slice(h * headDim, headDim);
            outHead.Clear();
            for (var t = 0; t <= pos; t++)
                TensorPrimitives.MultiplyAdd(values.AsSpan(t * kvDim + kvOffset, headDim), scores[t], outHead, outHead);
        }
    }

    private void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> output)
    {
        var meanSquare = TensorPrimitives.SumOfSquares(x) / x.Length;
        var scale = 1f / MathF.Sqrt(meanSquare + _c.NormEps);
        TensorPrimitives.Multiply(x, scale, output);
        TensorPrimitives.Multiply(output, weight, output);
    }

    /// <summary>
    /// output[j][i] = dot(row i of W, input[j]) for <paramref name="count"/> inputs: each row is read once for all
    /// inputs, and each dot is the same call a single input would make.
    /// </summary>
    private static void MatMul(WeightTensor w, ReadOnlySpan<float> input, Span<float> output, int count)
    {
        int rows = w.Rows, cols = w.Cols;
        for (var i = 0; i < rows; i++)
        {
            var row = w.Row(i);
            for (var j = 0; j < count; j++)
                output[j * rows + i] = TensorPrimitives.Dot(row, input.Slice(j * cols, cols));
        }
    }
}
