using System.Numerics.Tensors;
using SpecializedInfer.Engine;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Encoders;

/// <summary>
/// One padded batch of sentences on its way through an encoder, with what every encoder executor does between steps
/// (the reference encoder and generated ones share it): the token ids and attention mask laid out
/// <c>[batch, length]</c> (padding after each sentence's tokens), the token states <c>[batch, length, dim]</c>, the
/// steps each sentence ran, and the plan's <c>embeddingCosine</c> exits (<see cref="EncoderExits"/>): at a pooling
/// point each running sentence's pooled output is compared with the one kept from the step before; a sentence whose
/// cosine reaches the threshold leaves with its embedding and the rows of the sentences that stay close up, so the
/// next step runs over <see cref="Count"/> sentences only.
/// </summary>
public sealed class EncoderBatch
{
    private readonly int _dim;
    private readonly BertPooling _pooling;
    private readonly bool _normalize;
    private readonly float[][] _result;
    private readonly int[] _steps;
    private readonly float[]?[] _pooled;
    private readonly float[] _current;
    private List<int> _running;

    /// <param name="sentences">token ids of each sentence, [CLS] … [SEP] included</param>
    /// <param name="dim">the width of a token state</param>
    /// <param name="padToken">the id padding positions get</param>
    /// <param name="pooling">the model's pooling</param>
    /// <param name="normalize">whether embeddings are L2-normalized</param>
    /// <param name="states">a buffer for the states, used when it holds batch × length × dim floats (else a new one)</param>
    public EncoderBatch(IReadOnlyList<int[]> sentences, int dim, int padToken, BertPooling pooling, bool normalize, AlignedBuffer? states = null)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        if (sentences.Count == 0) throw new ArgumentException("A batch holds at least one sentence.");
        _dim = dim;
        _pooling = pooling;
        _normalize = normalize;
        Length = sentences.Max(s => s.Length);
        if (Length == 0) throw new ArgumentException("Every sentence has at least one token ([CLS]).");
        var batch = sentences.Count;
        Ids = new int[batch * Length];
        Mask = new int[batch * Length];
        Tokens = new int[batch];
        for (var b = 0; b < batch; b++)
        {
            sentences[b].CopyTo(Ids, b * Length);
            Mask.AsSpan(b * Length, sentences[b].Length).Fill(1);
            Ids.AsSpan(b * Length + sentences[b].Length, Length - sentences[b].Length).Fill(padToken);
            Tokens[b] = sentences[b].Length;
        }
        var size = (long)batch * Length * dim;
        if (size > AlignedBuffer.MaxLength)
            throw new ArgumentException($"A batch of {batch} sentences of {Length} tokens needs {size} floats of states, more than one buffer holds ({AlignedBuffer.MaxLength}); split it into smaller batches.");
        States = states is not null && states.Length >= size ? states : new AlignedBuffer(size);
        _running = Enumerable.Range(0, batch).ToList();
        _result = new float[batch][];
        _steps = new int[batch];
        _pooled = new float[batch][];
        _current = new float[dim];
    }

    /// <summary>The padded length every sentence's rows take.</summary>
    public int Length { get; }

    /// <summary>Sentences still running; they hold the first <see cref="Count"/> × <see cref="Length"/> rows.</summary>
    public int Count => _running.Count;

    /// <summary>Token ids, <c>[batch, length]</c>; rows of sentences that left are reused by the ones that stay.</summary>
    public int[] Ids { get; }

    /// <summary>Attention mask, <c>[batch, length]</c>: 1 for a token, 0 for padding; closes up with the states.</summary>
    public int[] Mask { get; }

    /// <summary>Tokens (unpadded length) of the sentence in each running row; closes up with the states.</summary>
    public int[] Tokens { get; }

    /// <summary>The token states, <c>[batch, length, dim]</c>, starting on a cache line (rows of a multiple of 16 floats stay on lines).</summary>
    public AlignedBuffer States { get; }

    /// <summary>Counts one more step for every running sentence.</summary>
    public void StepDone()
    {
        foreach (var s in _running) _steps[s]++;
    }

    /// <summary>
    /// After a step (or the embedding layer) whose pooled output is needed (<see cref="EncoderExits.PoolsAfter"/>): each
    /// running sentence's pooled output; at an exit point (<paramref name="exit"/>) the sentences whose output stopped
    /// moving leave with their embedding, and the remaining rows close up.
    /// </summary>
    public void Pool(EncoderExitPoint? exit)
    {
        var stay = new List<int>(_running.Count);
        var block = Length * _dim;
        for (var r = 0; r < _running.Count; r++)
        {
            var s = _running[r];
            PoolUnnormalized(States.Slice(r * block, block), Mask.AsSpan(r * Length, Length), _pooling, _current);
            if (exit is not null && _pooled[s] is { } before && EncoderExits.Leaves(exit, ExitMeasures.Cosine(_current, before)))
            {
                _result[s] = Embedding(r);
                continue;
            }
            _pooled[s] ??= new float[_dim];
            _current.CopyTo(_pooled[s]!, 0);
            if (stay.Count != r)
            {
                States.Slice(r * block, block).CopyTo(States.Slice(stay.Count * block, block));
                Mask.AsSpan(r * Length, Length).CopyTo(Mask.AsSpan(stay.Count * Length));
                Ids.AsSpan(r * Length, Length).CopyTo(Ids.AsSpan(stay.Count * Length));
                Tokens[stay.Count] = Tokens[r];
            }
            stay.Add(s);
        }
        _running = stay;
    }

    /// <summary>
    /// Throws unless the span an encoder's EmbedTokens fills with the steps each sentence ran has one entry per
    /// sentence: the reference encoder and generated encoders check it before any work, <see cref="Finish"/> again.
    /// </summary>
    public static void RequireStepsRun(int sentences, int stepsRun)
    {
        if (stepsRun != sentences)
            throw new ArgumentException($"The span for the steps each sentence ran must be as long as the list of sentences ({sentences}); it is {stepsRun} long.");
    }

    /// <summary>The embeddings: the running sentences pooled now, the others as they left; the steps each ran into <paramref name="stepsRun"/>.</summary>
    public float[][] Finish(Span<int> stepsRun)
    {
        RequireStepsRun(_steps.Length, stepsRun.Length);
        for (var r = 0; r < _running.Count; r++) _result[_running[r]] = Embedding(r);
        _steps.CopyTo(stepsRun);
        return _result;
    }

    private float[] Embedding(int row)
    {
        var embedding = new float[_dim];
        Pool(States.Slice(row * Length * _dim, Length * _dim), Mask.AsSpan(row * Length, Length), _pooling, _normalize, embedding);
        return embedding;
    }

    /// <summary>Pools one sentence's token states (<c>[length, dim]</c>) by <paramref name="pooling"/>, then L2-normalizes when asked.</summary>
    public static void Pool(ReadOnlySpan<float> states, ReadOnlySpan<int> mask, BertPooling pooling, bool normalize, Span<float> embedding)
    {
        PoolUnnormalized(states, mask, pooling, embedding);
        if (normalize)
        {
            var norm = TensorPrimitives.Norm(embedding);
            if (norm > 0) TensorPrimitives.Multiply(embedding, 1f / Math.Max(norm, 1e-12f), embedding);
        }
    }

    /// <summary>The pooling (mean over the unpadded tokens, or [CLS]) without normalization: what an exit point compares.</summary>
    public static void PoolUnnormalized(ReadOnlySpan<float> states, ReadOnlySpan<int> mask, BertPooling pooling, Span<float> embedding)
    {
        var dim = embedding.Length;
        embedding.Clear();
        if (pooling == BertPooling.Cls) states[..dim].CopyTo(embedding);
        else
        {
            var count = 0;
            for (var t = 0; t < mask.Length; t++)
                if (mask[t] != 0) { TensorPrimitives.Add(embedding, states.Slice(t * dim, dim), embedding); count++; }
            if (count > 0) TensorPrimitives.Multiply(embedding, 1f / count, embedding);
        }
    }
}
