namespace SpecializedInfer.Engine;

/// <summary>
/// One sequence being decoded: owns the KV cache and the scratch buffers, so a forward step allocates nothing.
/// Not thread-safe; use one session per thread.
/// </summary>
/// <remarks>
/// The two <c>Forward</c> overloads differ in meaning when a plan has dynamic depth: prompt tokens
/// (<see cref="Forward(ReadOnlySpan{int})"/>) always run the whole schedule; a generated token
/// (<see cref="Forward(int)"/>) runs the plan's decode depth and may exit early. For the full model they agree.
/// </remarks>
public interface IInferenceSession : IDisposable
{
    /// <summary>The position the next token will be evaluated at (the number of tokens in the cache).</summary>
    int Position { get; }

    /// <summary>The number of positions the cache holds.</summary>
    int ContextLength { get; }

    /// <summary>Called with the hidden state after every executed step; null for none.</summary>
    ILayerObserver? Observer { get; set; }

    /// <summary>Depth and exit counts of the tokens evaluated so far.</summary>
    SessionStatistics Statistics { get; }

    /// <summary>
    /// Evaluates a generated token at <see cref="Position"/>, appends it to the cache and returns the next-token
    /// logits. The span is valid until the next call on this session.
    /// </summary>
    ReadOnlySpan<float> Forward(int token);

    /// <summary>Evaluates prompt tokens in order at full depth; returns the logits after the last one.</summary>
    ReadOnlySpan<float> Forward(ReadOnlySpan<int> tokens);

    /// <summary>Drops every cached position at or after <paramref name="position"/> (0 clears the sequence).</summary>
    void Rewind(int position);
}
