using System.Numerics.Tensors;

namespace SpecializedInfer.Engine;

/// <summary>
/// A forward pass produced NaN or infinite logits: the model file's weights hold non-finite or extreme values, and
/// sampling from such logits would silently produce garbage. A <see cref="ModelFormatException"/> at the start of the
/// file's tensor data (no one tensor is to blame for a sum); <c>si inspect --check-values</c> (<see cref="Gguf.NonFiniteScan"/>) lists
/// the tensors that hold non-finite values.
/// </summary>
public sealed class NonFiniteLogitsException : ModelFormatException
{
    public NonFiniteLogitsException(string modelPath, long dataOffset, int position, int count, int firstToken, int vocabulary)
        : base(modelPath, dataOffset,
            $"weights whose forward pass gives finite logits, found {count} NaN or infinite logit{(count == 1 ? "" : "s")} of {vocabulary} " +
            $"(the first for token {firstToken}; session position {position}); si inspect --check-values lists the tensors holding non-finite values")
    {
        Position = position;
        Count = count;
        FirstToken = firstToken;
    }

    /// <summary>The session's position when the logits came out: a generated token's own position, or the end of a prompt batch.</summary>
    public int Position { get; }

    /// <summary>How many of the logits were NaN or infinite.</summary>
    public int Count { get; }

    /// <summary>The first token whose logit was not finite.</summary>
    public int FirstToken { get; }

    /// <summary>
    /// Throws when any logit is not finite. Costs one vectorized sum per head (vocabulary additions, against
    /// vocabulary × dim multiply-adds for the head itself); only a non-finite sum is looked at element by element.
    /// </summary>
    public static void ThrowIfAny(ReadOnlySpan<float> logits, Gguf.GgufFile model, int position)
    {
        if (float.IsFinite(TensorPrimitives.Sum(logits))) return;
        var count = 0;
        var first = -1;
        for (var i = 0; i < logits.Length; i++)
        {
            if (float.IsFinite(logits[i])) continue;
            count++;
            if (first < 0) first = i;
        }
        // A sum can overflow with every logit finite: nothing is wrong then.
        if (count > 0) throw new NonFiniteLogitsException(model.FilePath, model.DataOffset, position, count, first, logits.Length);
    }
}
