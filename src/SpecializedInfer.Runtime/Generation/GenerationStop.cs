namespace SpecializedInfer.Generation;

/// <summary>Why generation ended.</summary>
public enum GenerationStop
{
    /// <summary>The requested number of tokens was generated.</summary>
    TokenBudget,

    /// <summary>The model produced the end-of-sequence token (not yielded).</summary>
    EndOfSequence,

    /// <summary>The session's cache holds no more positions: the last token yielded could not be evaluated.</summary>
    ContextFull,
}
