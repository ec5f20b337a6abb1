using SpecializedInfer.Engine;
using SpecializedInfer.Sampling;

namespace SpecializedInfer.Generation;

/// <summary>Drives a session: evaluates the prompt, then samples one token at a time until EOS or the budget.</summary>
public sealed class TextGenerator(IInferenceSession session, Sampler sampler, int eosId)
{
    /// <summary>Seconds spent evaluating the prompt in the last run.</summary>
    public double PromptSeconds { get; private set; }

    /// <summary>Seconds spent producing generated tokens in the last run (sampling and their forward passes).</summary>
    public double GenerationSeconds { get; private set; }

    /// <summary>Yields generated token ids (EOS is not yielded). Stops at EOS, after the budget or when the context is full.</summary>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, int maxNewTokens, bool stopAtEos = true)
    {
        if (prompt.Count == 0) throw new ArgumentException("The prompt needs at least one token (usually BOS).", nameof(prompt));
        if (prompt.Count > session.ContextLength - session.Position)
            throw new ArgumentException($"The prompt of {prompt.Count} tokens does not fit the {session.ContextLength - session.Position} free positions.", nameof(prompt));
        PromptSeconds = GenerationSeconds = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < prompt.Count - 1; i++) session.Forward(prompt[i]);
        PromptSeconds = clock.Elapsed.TotalSeconds;
        return Decode(prompt[^1], maxNewTokens, stopAtEos, clock);
    }

    private IEnumerable<int> Decode(int next, int maxNewTokens, bool stopAtEos, System.Diagnostics.Stopwatch clock)
    {
        // The last prompt token's forward pass is counted as generation: it yields the first generated token.
        var start = clock.Elapsed.TotalSeconds;
        for (var produced = 0; produced < maxNewTokens && session.Position < session.ContextLength; produced++)
        {
            var token = sampler.Sample(session.Forward(next));
            GenerationSeconds = clock.Elapsed.TotalSeconds - start;
            if (stopAtEos && token == eosId) yield break;
            yield return token;
            start = clock.Elapsed.TotalSeconds - GenerationSeconds; // time spent by the consumer is not ours
            next = token;
        }
    }
}
