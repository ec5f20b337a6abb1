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

    /// <summary>Yields generated token ids (EOS is not yielded). Stops at EOS, after the budget or when the context is full.</summary>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, int maxNewTokens, bool stopAtEos = true)
    {
        if (prompt.Count == 0) throw new ArgumentException("The prompt needs at least one token (usually BOS).", nameof(prompt));
        if (prompt.Count > session.ContextLength - session.Position)
            throw new ArgumentException($"The prompt of {prompt.Count} tokens does not fit the {session.ContextLength - session.Position} free positions.", nameof(prompt));
        PromptSeconds = GenerationSeconds = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // The prompt runs at full depth in one call; its last logits choose the first generated token.
        var tokens = prompt as int[] ?? prompt.ToArray();
        var logits = session.Forward(tokens);
        var first = sampler.Sample(logits);
        PromptSeconds = clock.Elapsed.TotalSeconds;
        if (UsesSpeculation)
            return Timed(new SelfSpeculativeDecoder((ISpeculativeSession)session, logits.Length, eosId).Decode(first, maxNewTokens, stopAtEos), clock);
        return Decode(first, maxNewTokens, stopAtEos, clock);
    }

    /// <summary>True when greedy decoding will draft and verify (a speculative session and temperature 0).</summary>
    public bool UsesSpeculation => session is ISpeculativeSession && sampler.Options.Temperature == 0;

    private IEnumerable<int> Timed(IEnumerable<int> tokens, System.Diagnostics.Stopwatch clock)
    {
        using var e = tokens.GetEnumerator();
        while (true)
        {
            var start = clock.Elapsed.TotalSeconds; // time spent by the consumer between tokens is not ours
            var more = e.MoveNext();
            GenerationSeconds += clock.Elapsed.TotalSeconds - start;
            if (!more) yield break;
            yield return e.Current;
        }
    }

    private IEnumerable<int> Decode(int token, int maxNewTokens, bool stopAtEos, System.Diagnostics.Stopwatch clock)
    {
        for (var produced = 0; produced < maxNewTokens; produced++)
        {
            if (stopAtEos && token == eosId) yield break;
            yield return token;
            if (produced + 1 == maxNewTokens || session.Position >= session.ContextLength) yield break;
            var start = clock.Elapsed.TotalSeconds; // time spent by the consumer between tokens is not ours
            token = sampler.Sample(session.Forward(token));
            GenerationSeconds += clock.Elapsed.TotalSeconds - start;
        }
    }
}
