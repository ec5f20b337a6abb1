namespace SpecializedInfer.Engine;

/// <summary>
/// One sequence being decoded: owns the KV cache and the scratch buffers, so a forward step allocates nothing.
/// Not thread-safe; use one session per thread.
/// </summary>
public interface IInferenceSession : IDisposable
{
    /// <summary>The position the next token will be evaluated at (the number of tokens in the cache).</summary>
    int Position { get; }

    /// <summary>The number of positions the cache holds.</summary>
    int ContextLength { get; }

    /// <summary>Called with the hidden state after every executed layer; null for none.</summary>
    ILayerObserver? Observer { get; set; }

    /// <summary>
    /// Evaluates <paramref name="token"/> at <see cref="Position"/>, appends it to the cache and returns the
    /// next-token logits. The span is valid until the next call on this session.
    /// </summary>
    ReadOnlySpan<float> Forward(int token);

    /// <summary>Evaluates several tokens in order; returns the logits after the last one.</summary>
    ReadOnlySpan<float> Forward(ReadOnlySpan<int> tokens);

    /// <summary>Drops every cached position at or after <paramref name="position"/> (0 clears the sequence).</summary>
    void Rewind(int position);
}
