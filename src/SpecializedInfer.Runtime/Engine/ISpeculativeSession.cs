using SpecializedInfer.Planning;

namespace SpecializedInfer.Engine;

/// <summary>
/// A session that can draft cheaply and verify exactly: what lossless self-speculative decoding needs (plans with
/// <c>"kvFill": "lossless"</c>). Both the reference engine and generated engines implement it for such plans; the
/// decoding loop that uses it is written once, in <c>SelfSpeculativeDecoder</c>.
/// </summary>
public interface ISpeculativeSession : IInferenceSession
{
    /// <summary>How many steps a draft runs and how many tokens are drafted per verification.</summary>
    Speculation Speculation { get; }

    /// <summary>
    /// Drafts: runs steps <c>0 .. DraftSteps − 1</c> for <paramref name="token"/> at <see cref="IInferenceSession.Position"/>,
    /// stores those steps' K/V there, advances the position and returns the draft head's logits (valid until the next
    /// call). <paramref name="confident"/> is the result of the plan's exit test after step <c>DraftSteps − 1</c>
    /// (true when the plan has none): a drafter stops drafting early when it is false.
    /// </summary>
    ReadOnlySpan<float> Draft(int token, out bool confident);

    /// <summary>
    /// Verifies: moves the position to <paramref name="start"/>, runs the whole schedule over <paramref name="tokens"/>
    /// (positions <c>start ..</c>) in one batched pass and writes every position's logits into
    /// <paramref name="allLogits"/> (tokens × vocab); the position ends at <c>start + tokens.Length</c>. Each position's
    /// logits are bit-identical to what <see cref="IInferenceSession.Forward(int)"/> at full depth would give, so greedy
    /// decoding with verification equals greedy decoding without it.
    /// </summary>
    void Verify(int start, ReadOnlySpan<int> tokens, Span<float> allLogits);
}
