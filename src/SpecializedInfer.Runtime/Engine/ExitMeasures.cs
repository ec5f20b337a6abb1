using System.Numerics.Tensors;

namespace SpecializedInfer.Engine;

/// <summary>
/// The numbers exit and skip tests compare with their thresholds. The reference engine, generated engines and
/// cascades all call these, so one token meets one decision whichever executor runs it. Scratch spans are the
/// logits' length; nothing allocates.
/// </summary>
public static class ExitMeasures
{
    /// <summary>max softmax(logits) = 1 / Σ exp(l − max).</summary>
    public static float MaxProbability(ReadOnlySpan<float> logits, Span<float> scratch)
    {
        var max = TensorPrimitives.Max(logits);
        var e = scratch[..logits.Length];
        TensorPrimitives.Subtract(logits, max, e);
        TensorPrimitives.Exp(e, e);
        return 1f / TensorPrimitives.Sum(e);
    }

    /// <summary>Top-1 minus top-2 softmax probability: (1 − exp(l₂ − l₁)) / Σ exp(l − l₁).</summary>
    public static float Margin(ReadOnlySpan<float> logits, Span<float> scratch)
    {
        var (first, second) = TopTwo(logits);
        var e = scratch[..logits.Length];
        TensorPrimitives.Subtract(logits, first, e);
        TensorPrimitives.Exp(e, e);
        return (1f - MathF.Exp(second - first)) / TensorPrimitives.Sum(e);
    }

    /// <summary>
    /// Entropy of softmax(logits) in nats. With eᵢ = exp(lᵢ − m), S = Σ eᵢ: H = ln S − Σ eᵢ(lᵢ − m) / S
    /// = ln S + m − (e·l) / S, which needs one scratch span and vector operations only.
    /// </summary>
    public static float Entropy(ReadOnlySpan<float> logits, Span<float> scratch)
    {
        var max = TensorPrimitives.Max(logits);
        var e = scratch[..logits.Length];
        TensorPrimitives.Subtract(logits, max, e);
        TensorPrimitives.Exp(e, e);
        var sum = TensorPrimitives.Sum(e);
        return MathF.Max(0, MathF.Log(sum) + max - TensorPrimitives.Dot(e, logits) / sum);
    }

    /// <summary>Index of the largest logit (the first, on ties: the same rule greedy sampling uses).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits) => TensorPrimitives.IndexOfMax(logits);

    /// <summary>Cosine similarity of two hidden states (0 when either is all zeros).</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var norms = MathF.Sqrt(TensorPrimitives.SumOfSquares(a) * TensorPrimitives.SumOfSquares(b));
        return norms == 0 ? 0 : TensorPrimitives.Dot(a, b) / norms;
    }

    /// <summary>A linear probe's score: sigmoid(bias + w·x / sqrt(mean(x²) + eps)).</summary>
    public static float Probe(ReadOnlySpan<float> hidden, ReadOnlySpan<float> weights, float bias, float eps)
    {
        var invRms = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(hidden) / hidden.Length + eps);
        var z = bias + TensorPrimitives.Dot(weights, hidden) * invRms;
        return 1f / (1f + MathF.Exp(-z));
    }

    private static (float First, float Second) TopTwo(ReadOnlySpan<float> logits)
    {
        float first = float.NegativeInfinity, second = float.NegativeInfinity;
        foreach (var l in logits)
        {
            if (l > first) { second = first; first = l; }
            else if (l > second) second = l;
        }
        return (first, second);
    }
}
