using System.Numerics.Tensors;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;
using SpecializedInfer.Quantization;

namespace SpecializedInfer.Engine;

/// <summary>
/// State of one sequence in the <see cref="ReferenceEngine"/>: KV cache and scratch buffers. What grows with the
/// context (KV cache, rotary table, scores, parked states) is held as it fills (<see cref="ContextCapacity"/>). The forward pass follows llama2.c's shape (embed; per step attention and SwiGLU feed-forward on the
/// residual stream; final norm and output head), walking the plan's schedule as docs/plans.md defines it.
/// Prompt tokens go through in chunks of up to <see cref="MaxBatch"/> positions so each weight row is read once
/// per chunk; every position's arithmetic is the same, in the same order, as when it runs alone, so batched and
/// one-at-a-time evaluation give bit-identical results. Generated tokens may skip steps and leave at exit points as
/// the plan's <see cref="DecodeDecisions"/> say (conditions evaluated by a <see cref="ConditionInterpreter"/>); the
/// steps they did not run are filled by the plan's KV strategy.
/// </summary>
public partial class ReferenceSession : IInferenceSession
{
    public const int MaxBatch = 16;

    private readonly LlamaConfig _c;
    private readonly LlamaWeights _w;
    private readonly ScheduleStep[] _steps;
    private readonly ReferenceEngine _engine;
    private readonly RopeTable _rope;
    private readonly float _attentionScale;

    // What a generated token does at each step (the plan's decision model) and the interpreter of its conditions.
    private readonly StepDecision[] _decisions;
    private readonly DecodeEnd? _end;
    private readonly ConditionInterpreter _interpreter;
    private readonly ExitHeadWeights?[] _exitHeads;

    // Residual stream and scratch, one row per batched position.
    private readonly float[] _x, _xb, _q, _attnOut, _gate, _up, _logits, _headLogits;
    private readonly float[] _adapted; // an exit head's adapted state (ExitAdapterWeights)
    private readonly float[][] _scores; // one per part of a parallel attention: [position]

    // The threads a forward pass runs on, and what they run (ReferenceSession.Parallel.cs).
    private readonly WorkerPool _pool;
    private readonly ParallelWork _parallel;

    // The inputs of a product with quantized weights, quantized to Q8_0 (one row per batched position).
    private readonly byte[] _quantizedInput;

    // KV strategy recompute: the positions that stopped early, with their states (null under other strategies).
    private readonly ParkedPositions? _parked;
    private readonly ParkedPositions.StepRunner _runParked;

    // KV cache: [step][position][kvDim], one flat array per schedule step (a repeated layer has one per repeat), holding
    // _capacity positions (grown as the context fills).
    private readonly float[][] _keys, _values;
    private int _capacity;

    internal ReferenceSession(ReferenceEngine engine, SessionOptions options)
    {
        var contextLength = options.ContextLength;
        _engine = engine;
        _c = engine.Config;
        _w = engine.Weights;
        _steps = engine.Schedule.Steps.ToArray();
        _decisions = engine.Decisions.Steps.ToArray();
        _end = engine.Decisions.End;
        _interpreter = ConditionInterpreter.For(engine.Schedule, engine.Decisions, _c.VocabSize, _c.Dim, _c.NormEps);
        _exitHeads = engine.ExitHeadsByStep.ToArray();
        ContextLength = contextLength > 0 ? contextLength : _c.ContextLength;
        var recompute = engine.Schedule.KvFill == KvFill.Recompute;
        ContextCapacity.EnsureFits(ContextLength, BytesPerPosition(recompute), recompute ? Math.Max(_c.KvDim, _c.Dim) : _c.KvDim, "the reference engine");
        _capacity = ContextCapacity.Initial(ContextLength);
        _rope = RopeTable.For(_w, _capacity);
        _attentionScale = 1f / MathF.Sqrt(_c.HeadDim);
        _x = new float[MaxBatch * _c.Dim];
        _xb = new float[MaxBatch * _c.Dim];
        _q = new float[MaxBatch * _c.QueryDim];
        _attnOut = new float[MaxBatch * _c.QueryDim];
        _gate = new float[MaxBatch * _c.HiddenDim];
        _up = new float[MaxBatch * _c.HiddenDim];
        _pool = new WorkerPool(options.EffectiveThreads);
        _parallel = new ParallelWork(this);
        _scores = new float[_pool.Threads][];
        for (var t = 0; t < _scores.Length; t++) _scores[t] = new float[_capacity];
        _logits = new float[_c.VocabSize];
        _headLogits = new float[_c.VocabSize];
        _adapted = new float[_c.Dim];
        var widest = Math.Max(_c.Dim, Math.Max(_c.QueryDim, _c.HiddenDim));
        _quantizedInput = new byte[MaxBatch * Math.Max(ActivationQuantizer.Bytes(widest), SuperBlockActivationQuantizer.Bytes(widest))];
        _parked = recompute ? new ParkedPositions(_capacity, _c.Dim, _steps.Length) : null;
        _runParked = (step, position, state) => RunStep(_steps[step], position, 1, state);
        _keys = new float[_steps.Length][];
        _values = new float[_steps.Length][];
        for (var s = 0; s < _steps.Length; s++)
        {
            // A step without attention has no KV slot (ScheduleStep.HasKvCache): nothing would ever read it.
            var length = _steps[s].HasKvCache ? (long)_capacity * _c.KvDim : 0;
            _keys[s] = new float[length];
            _values[s] = new float[length];
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
        // Message-only constructors throughout: messages reach users as sentences, without "(Parameter 'tokens')".
        if (tokens.IsEmpty) throw new ArgumentException("At least one token is needed.");
        var vocab = _c.VocabSize;
        if (!allLogits.IsEmpty && allLogits.Length != tokens.Length * vocab)
            throw new ArgumentException($"Need room for {tokens.Length} × {vocab} logits.");
        CheckTokens(tokens);
        for (var start = 0; start < tokens.Length; start += MaxBatch)
        {
            var chunk = tokens.Slice(start, Math.Min(MaxBatch, tokens.Length - start));
            var pos = Position;
            for (var j = 0; j < chunk.Length; j++) _w.TokenEmbedding.ReadRow(chunk[j], Row(_x, j, _c.Dim));
            RunSteps(0, _steps.Length, pos, chunk.Length);
            for (var j = 0; j < chunk.Length; j++)
            {
                if (!allLogits.IsEmpty) Head(Row(_x, j, _c.Dim), allLogits.Slice((start + j) * vocab, vocab));
                if (asPrompt) Statistics.RecordPrompt();
            }
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
            CatchUp(s);
            RunStep(_steps[s], pos, count);
            if (Observer is { } observer)
                for (var j = 0; j < count; j++) observer.OnLayerOutput(pos + j, s, _steps[s].Layer, Row(_x, j, _c.Dim));
        }
    }

    /// <summary>
    /// A generated token: walks the plan's decisions (<see cref="DecodeDecisions"/>) step by step: skip or run, keep the
    /// states later tests compare with, and at an exit point decide whether the token leaves; then leave the K/V of the
    /// steps it did not run as the decision says.
    /// </summary>
    public ReadOnlySpan<float> Forward(int token)
    {
        CheckTokens([token]);
        var pos = Position;
        var x = Row(_x, 0, _c.Dim);
        _w.TokenEmbedding.ReadRow(token, x);
        var ran = 0;
        foreach (var d in _decisions)
        {
            var step = _steps[d.Step];
            var skipped = d.Skip is { } skip && _interpreter.Passes(skip.When, x, default);
            _interpreter.Keep(d.KeepBefore, x);
            if (skipped)
            {
                // The step's cache slot must still hold this position, so project what entered it (docs/plans.md).
                PropagateKv(step, pos, x);
                Statistics.RecordSkip(d.Step);
            }
            else
            {
                CatchUp(d.Step);
                RunStep(step, pos, count: 1);
                ran++;
                Observer?.OnLayerOutput(pos, d.Step, step.Layer, x);
            }

            if (d.Exit is not { } exit) continue;
            if (exit.HeadFirst)
            {
                HeadWith(_exitHeads[d.Step], x, _logits);
                if (exit.ArgMaxSlot >= 0) _interpreter.RecordArgMax(exit.ArgMaxSlot, _logits);
            }
            if (_interpreter.Passes(exit.When, x, _logits))
            {
                if (!exit.HeadFirst) HeadWith(_exitHeads[d.Step], x, _logits);
                return Finish(pos, x, exit.Leave, ran, d.Step);
            }
            _interpreter.Keep(exit.KeepIfStaying, x);
        }
        var end = _end!; // null only when an exit point always passes, and then the loop has returned
        // A token that ran to the decode depth answers with the model's own head (exit heads are for leaving).
        if (!end.ReusesExitLogits) HeadWith(null, x, _logits);
        return Finish(pos, x, end.Leave, ran, exitStep: -1);
    }

    /// <summary>Leaves the steps the token did not run as <paramref name="leave"/> says, and counts the token (rule 6).</summary>
    private ReadOnlySpan<float> Finish(int pos, ReadOnlySpan<float> x, KvLeave leave, int ran, int exitStep)
    {
        if (leave.Kind == KvLeaveKind.Park) _parked!.Park(pos, leave.FromStep, x); // nothing is projected: the steps run later
        else if (leave.Kind == KvLeaveKind.Propagate)
            for (var s = leave.FromStep; s < _steps.Length; s++) PropagateKv(_steps[s], pos, x);
        Statistics.RecordGenerated(ran, exitStep);
        Position = pos + 1;
        return _logits;
    }

    public void Rewind(int position)
    {
        if (position < 0 || position > Position)
            throw new ArgumentOutOfRangeException($"The session can rewind to a position from 0 to {Position}, not {position}.", innerException: null);
        Position = position; // entries past the index are overwritten before they are read again
        _parked?.Rewind(position);
    }

    /// <summary>The threads this session computes on (<see cref="SessionOptions.Threads"/>).</summary>
    public int Threads => _pool.Threads;

    /// <summary>Stops the session's worker threads.</summary>
    public void Dispose() => _pool.Dispose();

    /// <summary>The cached key of schedule step <paramref name="step"/> at <paramref name="position"/> (for tests of KV filling).</summary>
    internal ReadOnlySpan<float> CachedKey(int step, int position) => _keys[step].AsSpan(position * _c.KvDim, _c.KvDim);

    /// <summary>Whether schedule step <paramref name="step"/> has a KV slot (a step without attention has none).</summary>
    internal bool HasKvSlot(int step) => _keys[step].Length > 0;

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
        if (Position + tokens.Length > _capacity) Grow(Position + tokens.Length);
    }

    /// <summary>Bytes the session holds per position of its context: K and V of every step with a cache, rotary table, score, parked state.</summary>
    private long BytesPerPosition(bool recompute) =>
        2L * sizeof(float) * _c.KvDim * _steps.Count(s => s.HasKvCache) + 2L * sizeof(float) * (_c.RotaryDims / 2) + sizeof(float) +
        (recompute ? ParkedPositions.BytesPerPosition(_c.Dim) : 0);

    /// <summary>Holds at least <paramref name="positions"/> positions, keeping every cached entry (rows are position-major).</summary>
    private void Grow(int positions)
    {
        _capacity = ContextCapacity.Grow(_capacity, positions, ContextLength);
        for (var s = 0; s < _steps.Length; s++)
        {
            if (_keys[s].Length == 0) continue;
            Array.Resize(ref _keys[s], checked(_capacity * _c.KvDim));
            Array.Resize(ref _values[s], checked(_capacity * _c.KvDim));
        }
        for (var t = 0; t < _scores.Length; t++) _scores[t] = new float[_capacity];
        _rope.EnsurePositions(_capacity);
        _parked?.EnsurePositions(_capacity);
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
        if (head?.Adapter is { } adapter)
        {
            adapter.Apply(hidden, normed, _adapted);
            hidden = _adapted;
        }
        RmsNorm(hidden, (head?.Norm ?? _w.OutputNorm).Span, normed);
        // Products write into session arrays (the threads need them as arrays): _logits itself, or a scratch row copied out.
        var own = System.Runtime.CompilerServices.Unsafe.AreSame(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(logits), ref _logits[0]);
        MatMul(head?.Output ?? _w.Output, _xb, 0, own ? _logits : _headLogits, 0, 1);
        if (!own) _headLogits.CopyTo(logits);
        NonFiniteLogitsException.ThrowIfAny(logits, _w.File, Position);
    }

    /// <summary>
    /// EE-LLM recomputation before the current token(s) run step <paramref name="step"/>: parked positions run the steps
    /// they are missing up to it (<see cref="ParkedPositions"/>), each alone with the arithmetic of a one-position step,
    /// which batching with the token would reproduce bit for bit.
    /// </summary>
    private void CatchUp(int step)
    {
        if (_parked is { Count: > 0 }) Statistics.RecordRecomputed(_parked.CatchUp(step, _runParked));
    }

    /// <summary>CALM state propagation: the K/V step <paramref name="step"/> would have stored had it received <paramref name="hidden"/>.</summary>
    private void PropagateKv(ScheduleStep step, int pos, ReadOnlySpan<float> hidden)
    {
        if (!step.HasKvCache) return; // its attention never runs, so nothing reads its K/V
        var w = _engine.LayerWeights(step.WeightsOf);
        var kvDim = _c.KvDim;
        var xb = Row(_xb, 0, _c.Dim);
        RmsNorm(hidden, w.AttentionNorm.Span, xb);
        MatMul(w.Key, _xb, 0, _keys[step.Index], pos * kvDim, 1);
        MatMul(w.Value, _xb, 0, _values[step.Index], pos * kvDim, 1);
        var k = _keys[step.Index].AsSpan(pos * kvDim, kvDim);
        if (w.Biases is { } b)
        {
            AddBias(k, b.Key, 1);
            AddBias(_values[step.Index].AsSpan(pos * kvDim, kvDim), b.Value, 1);
        }
        _rope.Apply(k, _c.KvHeads, _c.HeadDim, pos);
    }

    /// <summary>One schedule step for <paramref name="count"/> consecutive positions starting at <paramref name="pos"/>.</summary>
    private void RunStep(ScheduleStep step, int pos, int count) => RunStep(step, pos, count, _x.AsSpan(0, count * _c.Dim));

    /// <summary>One schedule step on the residual rows <paramref name="x"/> (count × dim) of consecutive positions.</summary>
    private void RunStep(ScheduleStep step, int pos, int count, Span<float> x)
    {
        var w = _engine.LayerWeights(step.WeightsOf);
        var dim = _c.Dim;
        var xb = _xb.AsSpan(0, count * dim);
        if (step.RunsAttention) Attention(step, w, pos, count, x, xb);
        if (step.RunsFeedForward) FeedForward(w, count, x, xb);
    }

    /// <summary>Attention: project, rotate, append the positions' K/V to the step's cache (contiguous rows), attend, add.</summary>
    private void Attention(ScheduleStep step, LlamaLayerWeights w, int pos, int count, Span<float> x, Span<float> xb)
    {
        int dim = _c.Dim, kvDim = _c.KvDim, qDim = _c.QueryDim, headDim = _c.HeadDim;
        var keys = _keys[step.Index];
        var values = _values[step.Index];
        for (var j = 0; j < count; j++) RmsNorm(x.Slice(j * dim, dim), w.AttentionNorm.Span, Row(_xb, j, dim));
        MatMul(w.Query, _xb, 0, _q, 0, count);
        MatMul(w.Key, _xb, 0, keys, pos * kvDim, count);
        MatMul(w.Value, _xb, 0, values, pos * kvDim, count);
        if (w.Biases is { } b)
        {
            AddBias(_q.AsSpan(0, count * qDim), b.Query, count);
            AddBias(keys.AsSpan(pos * kvDim, count * kvDim), b.Key, count);
            AddBias(values.AsSpan(pos * kvDim, count * kvDim), b.Value, count);
        }
        for (var j = 0; j < count; j++)
        {
            _rope.Apply(Row(_q, j, qDim), _c.Heads, headDim, pos + j);
            _rope.Apply(keys.AsSpan((pos + j) * kvDim, kvDim), _c.KvHeads, headDim, pos + j);
        }
        Attend(keys, values, pos, count);
        MatMul(w.Output, _attnOut, 0, _xb, 0, count);
        TensorPrimitives.Add(x, xb, x);
    }

    /// <summary>Feed-forward: SwiGLU, down(silu(gate(x)) * up(x)), added to the residual rows.</summary>
    private void FeedForward(LlamaLayerWeights w, int count, Span<float> x, Span<float> xb)
    {
        int dim = _c.Dim, hidden = _c.HiddenDim;
        for (var j = 0; j < count; j++) RmsNorm(x.Slice(j * dim, dim), w.FeedForwardNorm.Span, Row(_xb, j, dim));
        var gate = _gate.AsSpan(0, count * hidden);
        var up = _up.AsSpan(0, count * hidden);
        MatMul(w.Gate, _xb, 0, _gate, 0, count);
        MatMul(w.Up, _xb, 0, _up, 0, count);
        TensorPrimitives.Multiply(up, gate, up);  // up * gate
        TensorPrimitives.Sigmoid(gate, gate);
        TensorPrimitives.Multiply(gate, up, gate); // silu(gate) * up = gate * sigmoid(gate) * up
        MatMul(w.Down, _gate, 0, _xb, 0, count);
        TensorPrimitives.Add(x, xb, x);
    }

    /// <summary>Adds a projection's bias to each of <paramref name="count"/> rows (Qwen2's query, key and value biases).</summary>
    private static void AddBias(Span<float> rows, WeightTensor bias, int count)
    {
        var b = bias.Span;
        for (var j = 0; j < count; j++)
        {
            var row = rows.Slice(j * b.Length, b.Length);
            TensorPrimitives.Add(row, b, row);
        }
    }

    private void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> output)
    {
        var meanSquare = TensorPrimitives.SumOfSquares(x) / x.Length;
        var scale = 1f / MathF.Sqrt(meanSquare + _c.NormEps);
        TensorPrimitives.Multiply(x, scale, output);
        TensorPrimitives.Multiply(output, weight, output);
    }
}
