using SpecializedInfer.Engine;
using SpecializedInfer.Sampling;

namespace SpecializedInfer.Generation;

/// <summary>
/// Lossless self-speculative greedy decoding over any <see cref="ISpeculativeSession"/>: draft a few tokens with the
/// first steps, verify them with the whole schedule in one batched pass, keep the prefix the full model agrees with.
/// The tokens are exactly those of greedy decoding at full depth; only the work to find them differs.
/// </summary>
/// <remarks>
/// Statistics: every verification is recorded with <see cref="SessionStatistics.RecordVerification"/>, and every
/// position verification leaves in the cache (the confirmed token plus the accepted drafts) as a generated token
/// that ran the whole schedule, as <see cref="IInferenceSession.Forward(int)"/> would have. So after decoding N
/// tokens to the budget, <c>GeneratedTokens = N − 1 = VerificationPasses + AcceptedDrafts</c>, as with plain decoding.
/// </remarks>
public sealed class SelfSpeculativeDecoder
{
    private readonly ISpeculativeSession _session;
    private readonly int _eosId;
    private readonly int _maxDrafts;
    private readonly int[] _batch;
    private readonly float[] _logits;
    private readonly int _vocab;

    /// <param name="session">A session whose cache is where decoding continues.</param>
    /// <param name="vocabSize">Logits per position (the interface does not expose it).</param>
    /// <param name="eosId">The end-of-sequence token.</param>
    /// <param name="draftTokens">Drafts per verification; null takes the plan's <see cref="Planning.Speculation.DraftTokens"/>.</param>
    public SelfSpeculativeDecoder(ISpeculativeSession session, int vocabSize, int eosId, int? draftTokens = null)
    {
        _session = session;
        _eosId = eosId;
        _maxDrafts = draftTokens ?? session.Speculation.DraftTokens;
        if (_maxDrafts is < 1 or > Planning.Speculation.MaxDraftTokens)
            throw new ArgumentOutOfRangeException($"A verification drafts 1 to {Planning.Speculation.MaxDraftTokens} tokens, not {_maxDrafts}.", innerException: null);
        _vocab = vocabSize;
        _batch = new int[_maxDrafts + 1];
        _logits = new float[(_maxDrafts + 1) * vocabSize];
    }

    /// <summary>Seconds spent evaluating the prompt (and picking the first token) in the last <see cref="Generate"/>.</summary>
    public double PromptSeconds { get; private set; }

    /// <summary>
    /// Evaluates the prompt, then yields greedy tokens (EOS is not yielded). Stops at EOS, after
    /// <paramref name="maxNewTokens"/> or when the context is full, exactly where <see cref="TextGenerator"/> would.
    /// </summary>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, int maxNewTokens, bool stopAtEos = true)
    {
        TextGenerator.CheckPrompt(prompt, _session);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var first = Sampler.ArgMax(_session.Forward(prompt as int[] ?? prompt.ToArray()));
        PromptSeconds = clock.Elapsed.TotalSeconds;
        return Decode(first, maxNewTokens, stopAtEos);
    }

    /// <summary>Why the last <see cref="Decode"/> (or <see cref="Generate"/>) ended, once its tokens are all enumerated.</summary>
    public GenerationStop StopReason { get; private set; }

    /// <summary>
    /// Continues from <paramref name="confirmed"/>, a token chosen from the full model's logits that is not yet in the
    /// cache (it goes at <see cref="IInferenceSession.Position"/>). Yields it first, then the following greedy tokens.
    /// </summary>
    public IEnumerable<int> Decode(int confirmed, int maxNewTokens, bool stopAtEos = true)
    {
        var produced = 0;
        var token = confirmed;
        StopReason = GenerationStop.TokenBudget;
        while (produced < maxNewTokens)
        {
            if (stopAtEos && token == _eosId) { StopReason = GenerationStop.EndOfSequence; yield break; }
            yield return token;
            produced++;
            if (produced == maxNewTokens) yield break;
            if (_session.Position >= _session.ContextLength) { StopReason = GenerationStop.ContextFull; yield break; }

            // Every round confirms accepted + 1 tokens, so drafting past what the budget or the context can still take is waste.
            var budget = Math.Min(maxNewTokens - produced - 1, _session.ContextLength - _session.Position - 1);
            var accepted = Round(token, Math.Min(_maxDrafts, budget), stopAtEos, out var next);
            for (var j = 1; j <= accepted; j++)
            {
                token = _batch[j];
                if (stopAtEos && token == _eosId) { StopReason = GenerationStop.EndOfSequence; yield break; }
                yield return token;
                produced++;
                if (produced == maxNewTokens) yield break;
            }
            token = next;
        }
    }

    /// <summary>
    /// One draft-and-verify round from <paramref name="t0"/> at the current position; returns how many drafts (in
    /// <c>_batch[1..]</c>) the full model confirmed and, in <paramref name="next"/>, its token after them.
    /// </summary>
    private int Round(int t0, int maxDrafts, bool stopAtEos, out int next)
    {
        var start = _session.Position;
        _batch[0] = t0;
        var n = 1;
        while (n <= maxDrafts)
        {
            var draft = Sampler.ArgMax(_session.Draft(_batch[n - 1], out var confident));
            // An unconfident draft is likely wrong; verifying it would cost a full-depth position for little chance.
            if (!confident) break;
            _batch[n++] = draft;
            if (stopAtEos && draft == _eosId) break;
        }

        var logits = _logits.AsSpan(0, n * _vocab);
        _session.Verify(start, _batch.AsSpan(0, n), logits);
        var accepted = 0;
        while (accepted < n - 1 && Sampler.ArgMax(logits.Slice(accepted * _vocab, _vocab)) == _batch[accepted + 1]) accepted++;
        next = Sampler.ArgMax(logits.Slice(accepted * _vocab, _vocab));
        _session.Rewind(start + 1 + accepted);

        var stats = _session.Statistics;
        stats.RecordVerification(n - 1, accepted);
        for (var j = 0; j <= accepted; j++) stats.RecordGenerated(stats.ScheduleSteps, exitStep: -1);
        return accepted;
    }
}
