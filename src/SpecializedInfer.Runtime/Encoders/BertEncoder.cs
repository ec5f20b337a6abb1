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
public sealed class BertEncoder : ISentenceEncoder
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
        if (batchSize < 1) throw new ArgumentOutOfRangeException($"A batch holds at least one sentence, not {batchSize}.", innerException: null);
        if (stepsRun.Length != texts.Count) throw new ArgumentException($"One entry per text: {texts.Count}, found {stepsRun.Length}.");
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
        EncoderBatch.RequireStepsRun(sentences.Count, stepsRun.Length);
        var batch = new EncoderBatch(sentences, Dimensions, Tokenizer.PadToken, Config.Pooling, Normalize);
        var buffers = new StepBuffers(Config, batch.Count * batch.Length);
        EmbedInputs(batch.Ids, batch.Mask, default, batch.Count, batch.Length, batch.States.Span);
        if (_exits.Count > 0 && EncoderExits.PoolsAfter(_exits, -1)) batch.Pool(null);
        for (var i = 0; i < Schedule.Steps.Count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            RunStep(Schedule.Steps[i], batch.States.Span, batch.Mask, batch.Count, batch.Length, buffers);
            batch.StepDone();
            if (_exits.Count > 0 && EncoderExits.PoolsAfter(_exits, i)) batch.Pool(_exits.FirstOrDefault(e => e.AfterStep == i));
        }
        return batch.Finish(stepsRun);
    }

    /// <summary>Pools one sentence's token states (<c>[length, dim]</c>) by the model's pooling, then L2-normalizes when asked.</summary>
    public void Pool(ReadOnlySpan<float> states, ReadOnlySpan<int> mask, Span<float> embedding) =>
        EncoderBatch.Pool(states, mask, Config.Pooling, Normalize, embedding[..Dimensions]);

    /// <summary>The model's pooling (mean over the unpadded tokens, or [CLS]) without normalization: what an exit point compares.</summary>
    public void PoolUnnormalized(ReadOnlySpan<float> states, ReadOnlySpan<int> mask, Span<float> embedding) =>
        EncoderBatch.PoolUnnormalized(states, mask, Config.Pooling, embedding[..Dimensions]);

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
        if (ids.Length != batch * length || mask.Length != batch * length || (!tokenTypes.IsEmpty && tokenTypes.Length != batch * length) || x.Length != batch * length * Dimensions)
            throw new ArgumentException($"Token ids, mask and token types must hold batch × length = {batch * length} values and the output {batch * length * Dimensions}.");
        BertInputEmbedding.Apply(_w, ids, mask, tokenTypes, batch, length, x);
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

    private static void LayerNorm(Span<float> row, BertNorm norm, float eps) => BertInputEmbedding.LayerNorm(row, norm, eps);
}
