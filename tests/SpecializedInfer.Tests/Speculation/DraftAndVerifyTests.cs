using SpecializedInfer.Engine;
using SpecializedInfer.Sampling;
using static SpecializedInfer.Tests.Speculation.Stories260KSpeculation;

namespace SpecializedInfer.Tests.Speculation;

/// <summary>
/// The session side of the contract: Verify's logits are bit for bit those of sequential full-depth Forward(int),
/// whether or not it reuses the drafts' states, and a cropped cache is as good as a fresh one.
/// </summary>
public sealed class DraftAndVerifyTests
{
    private static readonly int[] Continuation = [32, 263, 293, 45, 400, 118, 99, 7, 260, 270, 300, 12, 51, 77, 140, 301];

    /// <summary>Logits (as bits) of sequential full-depth decoding: the prompt, then each continuation token.</summary>
    private static List<int[]> Sequential(int[] prompt, ReadOnlySpan<int> continuation)
    {
        using var session = Full.CreateSession(128);
        session.Forward(prompt);
        var result = new List<int[]>();
        foreach (var t in continuation) result.Add(Bits(session.Forward(t)));
        return result;
    }

    private static void AssertRows(List<int[]> expected, float[] all, int rows)
    {
        for (var j = 0; j < rows; j++) Assert.Equal(expected[j], Bits(all.AsSpan(j * Vocab, Vocab)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(16)]
    public void Verify_without_drafts_is_bit_identical_to_sequential_forward(int count)
    {
        var prompt = Prompts(1)[0];
        var tokens = Continuation.AsSpan(0, count).ToArray();
        using var engine = Lossless(2, 15);
        using var session = (ISpeculativeSession)engine.CreateSession(128);
        session.Forward(prompt);
        var all = new float[count * Vocab];
        session.Verify(prompt.Length, tokens, all);
        AssertRows(Sequential(prompt, tokens), all, count);
        Assert.Equal(prompt.Length + count, session.Position);
    }

    [Theory]
    [InlineData(1, 4, 4)]  // every drafted state reused
    [InlineData(3, 6, 6)]
    [InlineData(4, 15, 15)]
    [InlineData(2, 6, 3)]  // the verified tokens leave the drafted ones after 3: only those are reused
    [InlineData(2, 6, 0)]
    public void Verify_after_drafts_is_bit_identical_to_sequential_forward(int draftSteps, int drafts, int agreeing)
    {
        var prompt = Prompts(2)[1];
        using var engine = Lossless(draftSteps, 15);
        using var session = (ISpeculativeSession)engine.CreateSession(128);
        session.Forward(prompt);
        foreach (var t in Continuation.AsSpan(0, drafts)) session.Draft(t, out _);

        var tokens = Continuation.AsSpan(0, drafts + 1).ToArray();
        for (var j = agreeing; j < tokens.Length - 1; j++) tokens[j] = (tokens[j] + 1) % Vocab;
        var all = new float[tokens.Length * Vocab];
        session.Verify(prompt.Length, tokens, all);
        AssertRows(Sequential(prompt, tokens), all, tokens.Length);

        // The cache is the full model's too: one more token gives the sequential logits.
        var next = Bits(((IInferenceSession)session).Forward(5));
        Assert.Equal(Sequential(prompt, [.. tokens, 5])[^1], next);
    }

    [Fact]
    public void Drafts_overwritten_before_verification_are_not_reused()
    {
        // Drafting x at P stores its shallow K/V there; a full-depth y at P replaces them. Verifying x again must
        // recompute position P, not trust the stale draft state.
        var prompt = Prompts(1)[0];
        using var engine = Lossless(3, 15);
        using var session = (ISpeculativeSession)engine.CreateSession(128);
        session.Forward(prompt);
        var p = session.Position;
        session.Draft(Continuation[0], out _);
        session.Draft(Continuation[1], out _);
        session.Rewind(p);
        session.Forward(Continuation[5]);
        session.Forward(Continuation[6]);
        session.Rewind(p);
        var all = new float[3 * Vocab];
        session.Verify(p, Continuation.AsSpan(0, 3), all);
        AssertRows(Sequential(prompt, Continuation.AsSpan(0, 3)), all, 3);
    }

    [Fact]
    public void After_a_rejected_draft_the_cropped_cache_equals_a_fresh_one()
    {
        var prompt = Prompts(3)[2];
        using var engine = Lossless(1, 6); // one-step drafts are mostly wrong: rejections guaranteed
        using var session = (ISpeculativeSession)engine.CreateSession(128);
        var t0 = Sampler.ArgMax(session.Forward(prompt));
        var confirmed = new List<int>(prompt);
        var rejections = 0;
        for (var round = 0; round < 6; round++)
        {
            var p = session.Position;
            var batch = new List<int> { t0 };
            for (var j = 0; j < 6; j++) batch.Add(Sampler.ArgMax(session.Draft(batch[^1], out _)));
            var all = new float[batch.Count * Vocab];
            session.Verify(p, batch.ToArray(), all);
            var accepted = 0;
            while (accepted < 6 && Sampler.ArgMax(all.AsSpan(accepted * Vocab, Vocab)) == batch[accepted + 1]) accepted++;
            if (accepted < 6) rejections++;
            var next = Sampler.ArgMax(all.AsSpan(accepted * Vocab, Vocab));
            session.Rewind(p + 1 + accepted);
            confirmed.AddRange(batch.Take(1 + accepted));

            // A fresh session fed the confirmed tokens sees exactly this cache: same logits for the next token.
            using var fresh = Full.CreateSession(128);
            fresh.Forward(confirmed.ToArray());
            var expected = Bits(fresh.Forward(next));
            Assert.Equal(expected, Bits(((IInferenceSession)session).Forward(next)));
            session.Rewind(session.Position - 1);
            t0 = next;
        }
        Assert.True(rejections > 0);
    }
}
