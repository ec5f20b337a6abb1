using System.Diagnostics;
using SpecializedInfer.Engine;
using SpecializedInfer.Sampling;

namespace SpecializedInfer.Generation;

/// <summary>
/// Drives a session: evaluates the prompt, then samples one token at a time until EOS or the budget. Greedy decoding
/// on an <see cref="ISpeculativeSession"/> goes through <see cref="SelfSpeculativeDecoder"/> (same tokens, drafted and
/// verified in batches); with sampling every token runs <see cref="IInferenceSession.Forward(int)"/>, which in
/// lossless mode is the full schedule, so the output is the full model's either way.
/// </summary>
public sealed class TextGenerator(IInferenceSession session, Sampler sampler, int eosId)
{
    /// <summary>Seconds spent evaluating the prompt (and picking the first token) in the last run.</summary>
    public double PromptSeconds { get; private set; }

    /// <summary>Seconds spent on generated tokens' forward passes and sampling in the last run.</summary>
    public double GenerationSeconds { get; private set; }

    /// <summary>
    /// The part of <see cref="GenerationSeconds"/> spent on the first decode step (the forward pass that produced the
    /// second generated token). It runs code the prompt did not, so JIT compilation lands in it; the steps after it
    /// show the steady speed.
    /// </summary>
    public double FirstDecodeSeconds { get; private set; }

    /// <summary>Why the last run ended, once its tokens are all enumerated.</summary>
    public GenerationStop StopReason { get; private set; }

    /// <summary>
    /// Evaluates the prompt now (a prompt that does not fit the session's free positions throws before anything is
    /// evaluated), then lazily yields generated token ids (EOS is not yielded). Stops at EOS, after the budget or
    /// when the context is full (<see cref="StopReason"/> says which).
    /// </summary>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, int maxNewTokens, bool stopAtEos = true)
    {
        CheckPrompt(prompt, session);
        PromptSeconds = GenerationSeconds = FirstDecodeSeconds = 0;
        StopReason = GenerationStop.TokenBudget;
        var clock = Stopwatch.StartNew();
        // The prompt runs at full depth in one call; its last logits choose the first generated token.
        var tokens = prompt as int[] ?? prompt.ToArray();
        var logits = session.Forward(tokens);
        var first = sampler.Sample(logits);
        PromptSeconds = clock.Elapsed.TotalSeconds;
        if (!UsesSpeculation) return Timed(Decode(first, maxNewTokens, stopAtEos), clock, () => { });
        var decoder = new SelfSpeculativeDecoder((ISpeculativeSession)session, logits.Length, eosId);
        return Timed(decoder.Decode(first, maxNewTokens, stopAtEos), clock, () => StopReason = decoder.StopReason);
    }

    /// <summary>True when greedy decoding will draft and verify (a speculative session and temperature 0).</summary>
    public bool UsesSpeculation => session is ISpeculativeSession && sampler.Options.Temperature == 0;

    /// <summary>A prompt must have a token and fit the session's free positions.</summary>
    internal static void CheckPrompt(IReadOnlyList<int> prompt, IInferenceSession session)
    {
        if (prompt.Count == 0) throw new ArgumentException("The prompt needs at least one token (usually BOS).");
        var free = session.ContextLength - session.Position;
        if (prompt.Count > free)
            throw new ArgumentException($"The prompt of {prompt.Count} tokens does not fit the {free} free positions of the {session.ContextLength}-position context.");
    }

    /// <summary>
    /// Times each token the decoder produces: the time spent between tokens by the consumer is not ours. The first
    /// token comes from the prompt's logits; producing the second is the first decode step.
    /// </summary>
    private IEnumerable<int> Timed(IEnumerable<int> tokens, Stopwatch clock, Action onEnd)
    {
        using var e = tokens.GetEnumerator();
        for (var yielded = 0; ; yielded++)
        {
            var start = clock.Elapsed.TotalSeconds;
            var more = e.MoveNext();
            GenerationSeconds += clock.Elapsed.TotalSeconds - start;
            if (yielded == 1) FirstDecodeSeconds = GenerationSeconds;
            if (!more) break;
            yield return e.Current;
        }
        onEnd();
    }

    private IEnumerable<int> Decode(int token, int maxNewTokens, bool stopAtEos)
    {
        for (var produced = 0; produced < maxNewTokens; produced++)
        {
            if (stopAtEos && token == eosId) { StopReason = GenerationStop.EndOfSequence; yield break; }
            yield return token;
            if (produced + 1 == maxNewTokens) yield break;
            if (session.Position >= session.ContextLength) { StopReason = GenerationStop.ContextFull; yield break; }
            token = sampler.Sample(session.Forward(token));
        }
    }
}
