using System.Numerics.Tensors;
using SpecializedInfer.Engine;
using SpecializedInfer.Planning;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Encoders;

/// <summary>
/// The reference BERT encoder: sentences in, one embedding each out. Token, token-type and absolute position
/// embeddings, LayerNorm, then the plan's steps (post-LayerNorm blocks: bidirectional multi-head attention over the
/// sentence's unpadded tokens, residual, LayerNorm, GELU (erf) feed-forward, residual, LayerNorm), then pooling (mean
/// over the unpadded tokens, or [CLS]) and optional L2 normalization. Sentences are encoded in padded batches with an
/// attention mask, as ONNX Runtime runs the exported graph. What runs is the <see cref="ExecutionSchedule"/> of a
/// plan (the one meaning of a plan, src/SpecializedInfer.Planning): pruned layers, an explicit order such as the
/// first k layers, shared weights, dropped sub-layers, and per-sentence early exits when the pooled embedding stops
/// moving (<see cref="EncoderExits"/>: a sentence that leaves drops out of the batch, the others go on). Plans that
/// decide per generated token (other exit criteria, skips, a decode depth, speculation) or merge layers do not apply
/// to an encoder and are refused.
/// </summary>
public sealed class BertEncoder
{
    private readonly BertWeights _w;
    private readonly IReadOnlyList<EncoderExitPoint> _exits;

    public BertEncoder(BertWeights weights, ExecutionSchedule? schedule = null, bool normalize = true, BertActivation activation = BertActivation.GeluErf)
    {
        _w = weights;
        Activation = activation;
        Schedule = schedule ?? ExecutionSchedule.Full(weights.Config.Layers);
        Check(Schedule, weights.Config.Layers);
        _exits = EncoderExits.Of(Schedule);
        Normalize = normalize;
        Tokenizer = weights.TokenizerSource.Tokenizer;
    }

    public static BertEncoder Load(string ggufPath, ExecutionSchedule? schedule = null, bool normalize = true) =>
        new(BertWeights.Load(ggufPath), schedule, normalize);

    public BertConfig Config => _w.Config;
    public ExecutionSchedule Schedule { get; }
    public bool Normalize { get; }
    public BertActivation Activation { get; }
    public BertTokenizer Tokenizer { get; }
    public int Dimensions => _w.Config.Dim;

    private static void Check(ExecutionSchedule schedule, int layers)
    {
        if (schedule.ModelLayers != layers)
            throw new NotSupportedException($"The plan was resolved for {schedule.ModelLayers} layers; the encoder has {layers}.");
        if (EncoderPlanRules.Unsupported(schedule) is { } problem) throw new NotSupportedException(problem);
    }

    /// <summary>One embedding per text, encoded <paramref name="batchSize"/> sentences at a time (padded to the longest).</summary>
    public float[][] Embed(IReadOnlyList<string> texts, int batchSize = 16, CancellationToken cancellation = default) =>
        Embed(texts, new int[texts.Count], batchSize, cancellation);

    /// <summary>As <see cref="Embed(IReadOnlyList{string}, int, CancellationToken)"/>, with the steps each text ran in <paramref name="stepsRun"/>.</summary>
    public float[][] Embed(IReadOnlyList<string> texts, int[] stepsRun, int batchSize = 16, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (stepsRun.Length != texts.Count) throw new ArgumentException($"One entry per text: {texts.Count}, found {stepsRun.Length}.", nameof(stepsRun));
        var result = new float[texts.Count][];
        for (var start = 0; start < texts.Count; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            var count = Math.Min(batchSize, texts.Count - start);
            var ids = new int[count][];
            for (var i = 0; i < count; i++) ids[i] = Tokenizer.Encode(texts[start + i]);
            var embeddings = EmbedTokens(ids, stepsRun.AsSpan(start, count), cancellation);
            Array.Copy(embeddings, 0, result, start, count);
        }
        return result;
    }

    /// <summary>
    /// One embedding per token sequence ([CLS] … [SEP] already added), all in one padded batch; cancellation is checked
    /// between the plan's steps.
    /// </summary>
    public float[][] EmbedTokens(IReadOnlyList<int[]> sentences, CancellationToken cancellation = default) =>
        EmbedTokens(sentences, new int[sentences.Count], cancellation);

    /// <summary>
    /// As <see cref="EmbedTokens(IReadOnlyList{int[]}, CancellationToken)"/>, with the number of plan steps each sentence
    /// ran in <paramref name="stepsRun"/>: all of them, or fewer for a sentence that left at an exit point.
    /// </summary>
    public float[][] EmbedTokens(IReadOnlyList<int[]> sentences, Span<int> stepsRun, CancellationToken cancellation = default)
    {
        if (stepsRun.Length != sentences.Count) throw new ArgumentException($"One entry per sentence: {sentences.Count}, found {stepsRun.Length}.", nameof(stepsRun));
        var length = sentences.Max(s => s.Length);
        var batch = sentences.Count;
        var dim = Dimensions;
        var ids = new int[batch * length];
        var mask = new int[batch * length];
        for (var b = 0; b < batch; b++)
        {
            sentences[b].CopyTo(ids, b * length);
            mask.AsSpan(b * length, sentences[b].Length).Fill(1);
            ids.AsSpan(b * length + sentences[b].Length, length - sentences[b].Length).Fill(Tokenizer.PadToken);
        }
        var states = new float[batch * length * dim];
        var buffers = new StepBuffers(Config, batch * length);
        EmbedInputs(ids, mask, default, batch, length, states);

        // Row block r of the batch holds sentence running[r]; a sentence that leaves is taken out, the rest close up.
        var running = Enumerable.Range(0, batch).ToList();
        var result = new float[batch][];
        var pooled = _exits.Count == 0 ? null : new float[batch][];
        var current = new float[dim];
        if (pooled is not null && EncoderExits.PoolsAfter(_exits, -1)) PoolRunning(-1);
        for (var i = 0; i < Schedule.Steps.Count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            RunStep(Schedule.Steps[i], states, mask, running.Count, length, buffers);
            foreach (var s in running) stepsRun[s]++;
            if (pooled is not null && EncoderExits.PoolsAfter(_exits, i)) PoolRunning(i);
        }
        for (var r = 0; r < running.Count; r++) result[running[r]] = PooledEmbedding(r);
        return result;

        float[] PooledEmbedding(int row)
        {
            var embedding = new float[dim];
            Pool(states.AsSpan(row * length * dim, length * dim), mask.AsSpan(row * length, length), embedding);
            return embedding;
        }

        // After step (or, at −1, the embedding layer): each running sentence's pooled output; at an exit point the
        // sentences whose output stopped moving leave with their embedding, and the remaining rows close up.
        void PoolRunning(int step)
        {
            var exit = _exits.FirstOrDefault(e => e.AfterStep == step);
            var stay = new List<int>(running.Count);
            for (var r = 0; r < running.Count; r++)
            {
                var s = running[r];
                PoolUnnormalized(states.AsSpan(r * length * dim, length * dim), mask.AsSpan(r * length, length), current);
                if (exit is not null && EncoderExits.Leaves(exit, ExitMeasures.Cosine(current, pooled![s])))
                {
                    result[s] = PooledEmbedding(r);
                    continue;
                }
                pooled![s] ??= new float[dim];
                current.CopyTo(pooled[s], 0);
                if (stay.Count != r)
                {
                    states.AsSpan(r * length * dim, length * dim).CopyTo(states.AsSpan(stay.Count * length * dim));
                    mask.AsSpan(r * length, length).CopyTo(mask.AsSpan(stay.Count * length));
                }
                stay.Add(s);
            }
            running = stay;
        }
    }

    /// <summary>Pools one sentence's token states (<c>[length, dim]</c>) by the model's pooling, then L2-normalizes when asked.</summary>
    public void Pool(ReadOnlySpan<float> states, ReadOnlySpan<int> mask, Span<float> embedding)
    {
        PoolUnnormalized(states, mask, embedding);
        if (Normalize)
        {
            var norm = TensorPrimitives.Norm(embedding);
            if (norm > 0) TensorPrimitives.Multiply(embedding, 1f / Math.Max(norm, 1e-12f), embedding);
        }
    }

    /// <summary>The model's pooling (mean over the unpadded tokens, or [CLS]) without normalization: what an exit point compares.</summary>
    public void PoolUnnormalized(ReadOnlySpan<float> states, ReadOnlySpan<int> mask, Span<float> embedding)
    {
        var dim = Dimensions;
        embedding.Clear();
        if (Config.Pooling == BertPooling.Cls) states[..dim].CopyTo(embedding);
        else
        {
            var count = 0;
            for (var t = 0; t < mask.Length; t++)
                if (mask[t] != 0) { TensorPrimitives.Add(embedding, states.Slice(t * dim, dim), embedding); count++; }
            if (count > 0) TensorPrimitives.Multiply(embedding, 1f / count, embedding);
        }
    }

    /// <summary>
    /// The token states after the plan's last step, <c>[batch, length, dim]</c>, for token ids and an attention mask
    /// laid out <c>[batch, length]</c> as the ONNX graph takes them (mask 0: a padding position no token attends to).
    /// <paramref name="tokenTypes"/> defaults to all zeros. Every step runs for every sentence (exit points are not
    /// taken: they decide on pooled embeddings). Cancellation is checked before every step.
    /// </summary>
    public void Encode(ReadOnlySpan<int> ids, ReadOnlySpan<int> mask, ReadOnlySpan<int> tokenTypes, int batch, int length, Span<float> output,
        CancellationToken cancellation = default)
    {
        EmbedInputs(ids, mask, tokenTypes, batch, length, output);
        var buffers = new StepBuffers(Config, batch * length);
        foreach (var step in Schedule.Steps)
        {
            cancellation.ThrowIfCancellationRequested();
            RunStep(step, output, mask, batch, length, buffers);
        }
    }

    /// <summary>The embedding layer: token + token type + position embeddings, LayerNorm, into <paramref name="x"/>.</summary>
    private void EmbedInputs(ReadOnlySpan<int> ids, ReadOnlySpan<int> mask, ReadOnlySpan<int> tokenTypes, int batch, int length, Span<float> x)
    {
        var c = Config;
        var dim = c.Dim;
        var rows = batch * length;
        if (ids.Length != rows || mask.Length != rows || (!tokenTypes.IsEmpty && tokenTypes.Length != rows) || x.Length != rows * dim)
            throw new ArgumentException($"Token ids, mask and token types must hold batch × length = {rows} values and the output {rows * dim}.");
        if (length > c.ContextLength)
            throw new ArgumentException($"A sentence of {length} tokens is longer than the model's {c.ContextLength} positions.");
        for (var b = 0; b < batch; b++)
            for (var p = 0; p < length; p++)
            {
                var r = b * length + p;
                var id = ids[r];
                var type = tokenTypes.IsEmpty ? 0 : tokenTypes[r];
                if ((uint)id >= (uint)c.VocabSize) throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token ids are between 0 and {c.VocabSize - 1}.");
                if ((uint)type >= (uint)c.TokenTypes) throw new ArgumentOutOfRangeException(nameof(tokenTypes), type, $"Token types are between 0 and {c.TokenTypes - 1}.");
                var row = x.Slice(r * dim, dim);
                TensorPrimitives.Add(_w.TokenEmbedding.AsSpan(id * dim, dim), _w.TokenTypes.AsSpan(type * dim, dim), row);
                TensorPrimitives.Add(row, _w.Positions.AsSpan(p * dim, dim), row);
                LayerNorm(row, _w.EmbeddingNorm, c.NormEps);
            }
    }

    /// <summary>Scratch for one step over up to a batch's rows.</summary>
    private sealed class StepBuffers(BertConfig c, int rows)
    {
        public readonly float[] Q = new float[rows * c.Dim], K = new float[rows * c.Dim], V = new float[rows * c.Dim];
        public readonly float[] Context = new float[rows * c.Dim], Sub = new float[rows * c.Dim], Hidden = new float[rows * c.HiddenDim];
    }

    /// <summary>One post-LayerNorm block over the first <paramref name="batch"/> sentences of <paramref name="x"/>.</summary>
    private void RunStep(ScheduleStep step, Span<float> x, ReadOnlySpan<int> mask, int batch, int length, StepBuffers t)
    {
        var rows = batch * length;
        var lw = _w.Layers[step.WeightsOf];
        if (step.RunsAttention)
        {
            Linear(x, lw.Query, t.Q, rows);
            Linear(x, lw.Key, t.K, rows);
            Linear(x, lw.Value, t.V, rows);
            Attention(t.Q, t.K, t.V, t.Context, mask, batch, length);
            Linear(t.Context, lw.AttentionOutput, t.Sub, rows);
            AddAndNorm(x, t.Sub, lw.AttentionNorm, rows);
        }
        if (step.RunsFeedForward)
        {
            Linear(x, lw.Up, t.Hidden, rows);
            BertActivations.Apply(Activation, t.Hidden.AsSpan(0, rows * Config.HiddenDim));
            Linear(t.Hidden, lw.Down, t.Sub, rows);
            AddAndNorm(x, t.Sub, lw.OutputNorm, rows);
        }
    }

    /// <summary>Multi-head attention within each sentence; keys at masked positions get no weight.</summary>
    private void Attention(float[] q, float[] k, float[] v, float[] context, ReadOnlySpan<int> mask, int batch, int length)
    {
        var dim = Config.Dim;
        var hd = Config.HeadDim;
        var scale = 1f / MathF.Sqrt(hd);
        var scores = new float[length];
        var valid = new int[length];
        for (var b = 0; b < batch; b++)
        {
            var n = 0;
            for (var j = 0; j < length; j++) if (mask[b * length + j] != 0) valid[n++] = j;
            for (var h = 0; h < Config.Heads; h++)
                for (var i = 0; i < length; i++)
                {
                    var qi = q.AsSpan((b * length + i) * dim + h * hd, hd);
                    var out_ = context.AsSpan((b * length + i) * dim + h * hd, hd);
                    out_.Clear();
                    if (n == 0) continue;
                    for (var s = 0; s < n; s++)
                        scores[s] = TensorPrimitives.Dot(qi, k.AsSpan((b * length + valid[s]) * dim + h * hd, hd)) * scale;
                    var probs = scores.AsSpan(0, n);
                    TensorPrimitives.SoftMax(probs, probs);
                    for (var s = 0; s < n; s++)
                        TensorPrimitives.MultiplyAdd(v.AsSpan((b * length + valid[s]) * dim + h * hd, hd), probs[s], out_, out_);
                }
        }
    }

    /// <summary><c>y[r] = W x[r] + b</c> for every row.</summary>
    private static void Linear(ReadOnlySpan<float> x, BertLinear l, Span<float> y, int rows) => EncoderKernels.Linear(x, rows, l, y);

    private void AddAndNorm(Span<float> x, ReadOnlySpan<float> sub, BertNorm norm, int rows)
    {
        var dim = Config.Dim;
        TensorPrimitives.Add(x[..(rows * dim)], sub[..(rows * dim)], x);
        for (var r = 0; r < rows; r++) LayerNorm(x.Slice(r * dim, dim), norm, Config.NormEps);
    }

    private static void LayerNorm(Span<float> row, BertNorm norm, float eps)
    {
        var mean = TensorPrimitives.Sum(row) / row.Length;
        TensorPrimitives.Subtract(row, mean, row);
        var variance = TensorPrimitives.SumOfSquares(row) / row.Length;
        TensorPrimitives.Multiply(row, 1f / MathF.Sqrt(variance + eps), row);
        TensorPrimitives.FusedMultiplyAdd(row, norm.Scale, norm.Shift, row);
    }
}
