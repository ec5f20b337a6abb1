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
/// one-at-a-time evaluation give bit-identical results. Generated tokens may skip steps and leave at exit points
/// (<see cref="ExitDecider"/>); the steps they did not run are filled by the plan's KV strategy.
/// </summary>
public partial class ReferenceSession : IInferenceSession
{
    public const int MaxBatch = 16;

    private readonly LlamaConfig _c;
    private readonly LlamaWeights _w;
    private readonly ScheduleStep[] _steps;
    private readonly ReferenceEngine _engine;
    private readonly int _decodeDepth;
    private readonly KvFill _kvFill;
    private readonly RopeTable _rope;
    private readonly float _attentionScale;

    // Exits and skips apply to generated tokens except under lossless speculation, where Forward(int) is the full model.
    private readonly bool _dynamicDepth;
    private readonly int _generatedDepth;
    private readonly ExitDecider _decider;
    private readonly ExitHeadWeights?[] _exitHeads;
    private readonly bool[] _needsHead; // ExitTest.NeedsHead walks ensembles with LINQ, so it is read once here

    // Residual stream and scratch, one row per batched position.
    private readonly float[] _x, _xb, _q, _attnOut, _gate, _up, _scores, _logits;

    // Per generated token: the state entering the current step (after the skip test: entering the previous one),
    // the state at the last exit point passed, and the argmax of each exit point that computed a head.
    private readonly float[] _entering, _previousExit;
    private readonly int[] _argmaxHistory;

    // KV strategy recompute: per position the hidden state it stopped with and the number of steps it has completed.
    // Every position below _firstParked has completed the whole schedule.
    private readonly float[] _parked;
    private readonly int[] _completed;
    private int _firstParked;

    // KV cache: [step][position][kvDim], one flat array per schedule step (a repeated layer has one per repeat).
    private readonly float[][] _keys, _values;

    internal ReferenceSession(ReferenceEngine engine, int contextLength)
    {
        _engine = engine;
        _c = engine.Config;
        _w = engine.Weights;
        _steps = engine.Schedule.Steps.ToArray();
        _decodeDepth = engine.Schedule.DecodeDepth;
        _kvFill = engine.Schedule.KvFill;
        _dynamicDepth = _kvFill != KvFill.Lossless;
        _generatedDepth = _dynamicDepth ? _decodeDepth : _steps.Length;
        _decider = ExitDecider.For(engine.Schedule, _c.VocabSize, _c.NormEps);
        _exitHeads = engine.ExitHeadsByStep.ToArray();
        _needsHead = _steps.Select(s => s.ExitAfter?.NeedsHead ?? false).ToArray();
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
        _entering = new float[_c.Dim];
        _previousExit = new float[_c.Dim];
        _argmaxHistory = new int[_steps.Length];
        _parked = _kvFill == KvFill.Recompute ? new float[(long)ContextLength * _c.Dim] : [];
        _completed = _kvFill == KvFill.Recompute ? new int[ContextLength] : [];
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
    public ReadOnlySpan<float> ForwardAll(ReadOnlySpan<int> tokens, Span<float> allLogits) => RunFullDepth(tokens, allLogits, asPrompt: true);

    /// <summary>
    /// The batched full-depth pass behind prompts and verification; only prompt tokens are counted as such
    /// (verified positions are counted by the decoder, which knows how many it keeps).
    /// </summary>
    private ReadOnlySpan<float> RunFullDepth(ReadOnlySpan<int> tokens, Span<float> allLogits, bool asPrompt)
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
            RunSteps(0, _steps.Length, pos, chunk.Length);
            for (var j = 0; j < chunk.Length; j++)
            {
                if (!allLogits.IsEmpty) Head(Row(_x, j, _c.Dim), allLogits.Slice((start + j) * vocab, vocab));
                if (asPrompt) Statistics.RecordPrompt();
            }
            if (_kvFill == KvFill.Recompute) MarkComplete(pos, chunk.Length);
            Position = pos + chunk.Length;
        }
        if (allLogits.IsEmpty) Head(Row(_x, (tokens.Length - 1) % MaxBatch, _c.Dim), _logits);
        else allLogits.Slice((tokens.Length - 1) * vocab, vocab).CopyTo(_logits);
        return _logits;
    }

    /// <summary>
    /// Steps <paramref name="from"/>..<paramref name="to"/>−1 for the <paramref name="count"/> rows of <c>_x</c> at
    /// positions <paramref name="pos"/>.., each followed by the observer; under recompute, parked positions catch up
    /// on a step before the rows attend over it.
    /// </summary>
    private void RunSteps(int from, int to, int pos, int count)
    {
        for (var s = from; s < to; s++)
        {
            if (_kvFill == KvFill.Recompute) Recompute(s, pos);
            RunStep(_steps[s], pos, count);
            if (Observer is { } observer)
                for (var j = 0; j < count; j++) observer.OnLayerOutput(pos + j, s, _steps[s].Layer, Row(_x, j, _c.Dim));
        }
    }

    public ReadOnlySpan<float> Forward(int token)
    {
        CheckTokens([token]);
        var pos = Position;
        var x = Row(_x, 0, _c.Dim);
        _w.TokenEmbedding.Row(token).CopyTo(x);
        var ran = 0;
        var exitStep = -1;
        var headsComputed = 0;
        var passedExit = false;
        var logitsReady = false;
        var last = _generatedDepth - 1;
        for (var s = 0; s < _generatedDepth; s++)
        {
            var step = _steps[s];
            logitsReady = false;
            if (_dynamicDepth && step.Skip is { } rule && _decider.Skips(rule, s == 0 ? default : _entering, x))
            {
                // The step's cache slot must still hold this position, so project what entered it (docs/plans.md).
                PropagateKv(step, pos, x);
                Statistics.RecordSkip(s);
                x.CopyTo(_entering);
            }
            else
            {
                x.CopyTo(_entering);
                if (_kvFill == KvFill.Recompute) Recompute(s, pos);
                RunStep(step, pos, count: 1);
                ran++;
                Observer?.OnLayerOutput(pos, s, step.Layer, x);
            }

            if (_dynamicDepth && step.ExitAfter is { } exit)
            {
                var head = _exitHeads[s];
                var headed = _needsHead[s];
                if (headed)
                {
                    HeadWith(head, x, _logits);
                    _argmaxHistory[headsComputed++] = ExitMeasures.ArgMax(_logits);
                }
                var previous = passedExit ? _previousExit : _entering;
                if (_decider.Passes(exit.Test, x, previous, _logits, _argmaxHistory.AsSpan(0, headsComputed)))
                {
                    if (!headed) HeadWith(head, x, _logits);
                    exitStep = last = s;
                    break;
                }
                x.CopyTo(_previousExit);
                passedExit = true;
                logitsReady = headed && head is null;
            }
        }
        // A token that ran to the decode depth answers with the model's own head (exit heads are for leaving).
        if (exitStep < 0 && !logitsReady) HeadWith(null, x, _logits);

        if (_kvFill == KvFill.Recompute)
        {
            // Nothing is projected: the missing steps run for real when a later token first needs them.
            x.CopyTo(_parked.AsSpan(pos * _c.Dim, _c.Dim));
            _completed[pos] = last + 1;
            if (last + 1 == _steps.Length) MarkComplete(pos, 1);
        }
        else
        {
            // Steps this token did not run still need its K/V at this position for deeper tokens later.
            for (var s = last + 1; s < _steps.Length; s++) PropagateKv(_steps[s], pos, x);
        }

        Statistics.RecordGenerated(ran, exitStep);
        Position = pos + 1;
        return _logits;
    }

    public void Rewind(int position)
    {
        if (position < 0 || position > Position)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"Can rewind to 0..{Position}.");
        Position = position; // entries past the index are overwritten before they are read again
        // Parked positions at or past the new end are dropped: catching up only ever scans below Position.
        _firstParked = Math.Min(_firstParked, position);
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
                // The message-only constructor: the message reaches users as it is, without "(Parameter 'tokens')".
                throw new ArgumentOutOfRangeException($"Token id {token} is outside the vocabulary: ids run from 0 to {_c.VocabSize - 1}.", innerException: null);
        if (tokens.Length > ContextLength - Position)
            throw new InvalidOperationException($"The session's context of {ContextLength} positions is full.");
    }

    private static Span<float> Row(float[] buffer, int row, int width) => buffer.AsSpan(row * width, width);

    /// <summary>Final norm and output matrix: logits of one hidden state (uses the scratch row 0 of <c>_xb</c>).</summary>
    private void Head(ReadOnlySpan<float> hidden, Span<float> logits) => HeadWith(null, hidden, logits);

    /// <summary>Logits through an exit head the plan names (null: the model's own head).</summary>
    private void Head(ExitHead? head, ReadOnlySpan<float> hidden, Span<float> logits) =>
        HeadWith(head is null ? null : _engine.HeadWeights(head), hidden, logits);

    private void HeadWith(ExitHeadWeights? head, ReadOnlySpan<float> hidden, Span<float> logits)
    {
        var normed = Row(_xb, 0, _c.Dim);
        RmsNorm(hidden, (head?.Norm ?? _w.OutputNorm).Span, normed);
        MatMul(head?.Output ?? _w.Output, normed, logits, 1);
    }

    /// <summary>
    /// EE-LLM recomputation before the token(s) starting at position <paramref name="end"/> run step
    /// <paramref name="step"/>: every earlier position that has not run it yet runs the steps it is missing up to
    /// and including it, lowest step first and in
    /// position order within a step, so each one attends over entries that are already there. Each runs alone with
    /// the arithmetic of a one-position step, which batching with the token would reproduce bit for bit.
    /// </summary>
    private void Recompute(int step, int end)
    {
        var from = step + 1;
        for (var p = _firstParked; p < end; p++) from = Math.Min(from, _completed[p]);
        for (var t = from; t <= step; t++)
            for (var p = _firstParked; p < end; p++)
                if (_completed[p] == t)
                {
                    RunStep(_steps[t], p, 1, _parked.AsSpan(p * _c.Dim, _c.Dim));
                    _completed[p] = t + 1;
                    Statistics.RecordRecomputed(1);
                }
        if (step == _steps.Length - 1) MarkComplete(end, 0);
    }

    /// <summary>Records positions that ran the whole schedule and moves the parked frontier past completed ones.</summary>
    private void MarkComplete(int pos, int count)
    {
        for (var j = 0; j < count; j++) _completed[pos + j] = _steps.Length;
        var end = pos + count;
        while (_firstParked < end && _completed[_firstParked] == _steps.Length) _firstParked++;
    }

    /// <summary>CALM state propagation: the K/V step <paramref name="step"/> would have stored had it received <paramref name="hidden"/>.</summary>
    private void PropagateKv(ScheduleStep step, int pos, ReadOnlySpan<float> hidden)
    {
        var w = _w.Layer(step.WeightsOf);
        var kvDim = _c.KvDim;
        var xb = Row(_xb, 0, _c.Dim);
        RmsNorm(hidden, w.AttentionNorm.Span, xb);
        var k = _keys[step.Index].AsSpan(pos * kvDim, kvDim);
        MatMul(w.Key, xb, k, 1);
        MatMul(w.Value, xb, _values[step.Index].AsSpan(pos * kvDim, kvDim), 1);
        _rope.Apply(k, _c.KvHeads, _c.HeadDim, pos);
    }

    /// <summary>One schedule step for <paramref name="count"/> consecutive positions starting at <paramref name="pos"/>.</summary>
    private void RunStep(ScheduleStep step, int pos, int count) => RunStep(step, pos, count, _x.AsSpan(0, count * _c.Dim));

    /// <summary>One schedule step on the residual rows <paramref name="x"/> (count × dim) of consecutive positions.</summary>
    private void RunStep(ScheduleStep step, int pos, int count, Span<float> x)
    {
        var w = _w.Layer(step.WeightsOf);
        int dim = _c.Dim, kvDim = _c.KvDim, qDim = _c.QueryDim, hidden = _c.HiddenDim, headDim = _c.HeadDim;
        var keys = _keys[step.Index];
        var values = _values[step.Index];
        var xb = _xb.AsSpan(0, count * dim);

        // Attention: project, rotate, append the positions' K/V to the step's cache (contiguous rows), attend.
        for (var j = 0; j < count; j++) RmsNorm(x.Slice(j * dim, dim), w.AttentionNorm.Span, Row(_xb, j, dim));
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
        for (var j = 0; j < count; j++) RmsNorm(x.Slice(j * dim, dim), w.FeedForwardNorm.Span, Row(_xb, j, dim));
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
