using System.Numerics.Tensors;

namespace SpecializedInfer.Sampling;

/// <summary>
/// Picks tokens from logits: greedy, or temperature then top-k then top-p, drawn from a seeded xorshift stream
/// (not System.Random, whose sequence is not promised across runtimes). Buffers are sized once per vocabulary.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly float[] _probs;
    private readonly float[] _sortKeys;
    private readonly int[] _ids;
    private ulong _state;

    public Sampler(SamplingOptions options, int vocabSize)
    {
        options.Validate();
        _options = options;
        _probs = new float[vocabSize];
        _sortKeys = new float[vocabSize];
        _ids = new int[vocabSize];
        _state = options.Seed == 0 ? 0x9E3779B97F4A7C15UL : options.Seed;
    }

    public SamplingOptions Options => _options;

    /// <summary>Index of the largest logit; the lowest index wins ties, as in llama.cpp's greedy sampler.</summary>
    public static int ArgMax(ReadOnlySpan<float> logits) => TensorPrimitives.IndexOfMax(logits);

    public int Sample(ReadOnlySpan<float> logits)
    {
        if (logits.Length != _probs.Length)
            throw new ArgumentException($"The sampler was made for {_probs.Length} logits (the vocabulary), got {logits.Length}.");
        if (_options.Temperature == 0) return ArgMax(logits);

        var probs = _probs.AsSpan();
        TensorPrimitives.Divide(logits, _options.Temperature, probs);
        // TensorPrimitives.SoftMax does not subtract the maximum: a logit / temperature past ~88 overflows exp to ∞.
        TensorPrimitives.Subtract(probs, TensorPrimitives.Max(probs), probs);
        TensorPrimitives.SoftMax(probs, probs);

        var n = probs.Length;
        if (_options.TopK > 0 || _options.TopP < 1)
        {
            // Sort candidates by probability, descending (negated keys, ascending sort).
            TensorPrimitives.Negate(probs, _sortKeys);
            for (var i = 0; i < n; i++) _ids[i] = i;
            _sortKeys.AsSpan().Sort(_ids.AsSpan());
            if (_options.TopK > 0) n = Math.Min(n, _options.TopK);
            if (_options.TopP < 1)
            {
                float cumulative = 0;
                for (var i = 0; i < n; i++)
                {
                    cumulative -= _sortKeys[i];
                    if (cumulative >= _options.TopP) { n = i + 1; break; }
                }
            }
            float kept = 0;
            for (var i = 0; i < n; i++) kept -= _sortKeys[i];
            var r = NextFloat() * kept;
            float acc = 0;
            for (var i = 0; i < n; i++)
            {
                acc -= _sortKeys[i];
                if (r < acc) return _ids[i];
            }
            return _ids[n - 1];
        }

        var u = NextFloat();
        float c = 0;
        for (var i = 0; i < probs.Length; i++)
        {
            c += probs[i];
            if (u < c) return i;
        }
        return ArgMax(logits); // rounding left the total just below u
    }

    /// <summary>Uniform in [0, 1): xorshift64*, top 24 bits.</summary>
    private float NextFloat()
    {
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return ((_state * 0x2545F4914F6CDD1DUL) >> 40) / 16777216f;
    }
}
