using System.Numerics.Tensors;
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
/// first k layers, shared weights and dropped sub-layers. Plans that decide per generated token (exits, skips, a
/// decode depth, speculation) or merge layers do not apply to an encoder and are refused.
/// </summary>
public sealed class BertEncoder
{
    private readonly BertWeights _w;

    public BertEncoder(BertWeights weights, ExecutionSchedule? schedule = null, bool normalize = true, BertActivation activation = BertActivation.GeluErf)
    {
        _w = weights;
        Activation = activation;
        Schedule = schedule ?? ExecutionSchedule.Full(weights.Config.Layers);
        Check(Schedule, weights.Config.Layers);
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
    public float[][] Embed(IReadOnlyList<string> texts, int batchSize = 16, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var result = new float[texts.Count][];
        for (var start = 0; start < texts.Count; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            var count = Math.Min(batchSize, texts.Count - start);
            var ids = new int[count][];
            for (var i = 0; i < count; i++) ids[i] = Tokenizer.Encode(texts[start + i]);
            var embeddings = EmbedTokens(ids, cancellation);
            Array.Copy(embeddings, 0, result, start, count);
        }
        return result;
    }

    /// <summary>
    /// One embedding per token sequence ([CLS] … [SEP] already added), all in one padded batch; cancellation is checked
    /// between the plan's steps.
    /// </summary>
    public float[][] EmbedTokens(IReadOnlyList<int[]> sentences, CancellationToken cancellation = default)
    {
        var length = sentences.Max(s => s.Length);
        var batch = sentences.Count;
        var ids = new int[batch * length];
        var mask = new int[batch * length];
        for (var b = 0; b < batch; b++)
        {
            sentences[b].CopyTo(ids, b * length);
            mask.AsSpan(b * length, sentences[b].Length).Fill(1);
            ids.AsSpan(b * length + sentences[b].Length, length - sentences[b].Length).Fill(Tokenizer.PadToken);
        }
        var states = new float[batch * length * Dimensions];
        Encode(ids, mask, null, batch, length, states, cancellation);
        var result = new float[batch][];
        for (var b = 0; b < batch; b++)
        {
            result[b] = new float[Dimensions];
            Pool(states.AsSpan(b * length * Dimensions, length * Dimensions), mask.AsSpan(b * length, length), result[b]);
        }
        return result;
    }

    /// <summary>Pools one sentence's token states (<c>[length, dim]</c>) by the model's pooling, then L2-normalizes when asked.</summary>
    public void Pool(ReadOnlySpan<float> states, ReadOnlySpan<int> mask, Span<float> embedding)
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
        if (Normalize)
        {
            var norm = TensorPrimitives.Norm(embedding);
            if (norm > 0) TensorPrimitives.Multiply(embedding, 1f / Math.Max(norm, 1e-12f), embedding);
        }
    }

    /// <summary>
    /// The token states after the plan's last step, <c>[batch, length, dim]</c>, for token ids and an attention mask
    /// laid out <c>[batch, length]</c> as the ONNX graph takes them (mask 0: a padding position no token attends to).
    /// <paramref name="tokenTypes"/> defaults to all zeros. Cancellation is checked before every step.
    /// </summary>
    public void Encode(ReadOnlySpan<int> ids, ReadOnlySpan<int> mask, ReadOnlySpan<int> tokenTypes, int batch, int length, Span<float> output,
        CancellationToken cancellation = default)
    {
        var c = Config;
        var dim = c.Dim;
        var rows = batch * length;
        if (ids.Length != rows || mask.Length != rows || (!tokenTypes.IsEmpty && tokenTypes.Length != rows) || output.Length != rows * dim)
            throw new ArgumentException($"Token ids, mask and token types must hold batch × length = {rows} values and the output {rows * dim}.");
        if (length > c.ContextLength)
            throw new ArgumentException($"A sentence of {length} tokens is longer than the model's {c.ContextLength} positions.");
        var x = output;
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

        var q = new float[rows * dim];
        var k = new float[rows * dim];
        var v = new float[rows * dim];
        var context = new float[rows * dim];
        var sub = new float[rows * dim];
        var hidden = new float[rows * c.HiddenDim];
        foreach (var step in Schedule.Steps)
        {
            cancellation.ThrowIfCancellationRequested();
            var lw = _w.Layers[step.WeightsOf];
            if (step.RunsAttention)
            {
                Linear(x, lw.Query, q, rows);
                Linear(x, lw.Key, k, rows);
                Linear(x, lw.Value, v, rows);
                Attention(q, k, v, context, mask, batch, length);
                Linear(context, lw.AttentionOutput, sub, rows);
                AddAndNorm(x, sub, lw.AttentionNorm, rows);
            }
            if (step.RunsFeedForward)
            {
                Linear(x, lw.Up, hidden, rows);
                BertActivations.Apply(Activation, hidden);
                Linear(hidden, lw.Down, sub, rows);
                AddAndNorm(x, sub, lw.OutputNorm, rows);
            }
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
