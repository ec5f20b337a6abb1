using SpecializedInfer.Sampling;

namespace SpecializedInfer.Tracing;

/// <summary>
/// One sequence for a <see cref="TeacherForcedTrace"/>: a prompt and the tokens that follow it, either given (a text)
/// or drawn from the full model itself while it is traced (its greedy or seeded sampled continuation, which is the
/// same as teacher-forcing it on that continuation afterwards, in one pass). <see cref="Group"/> keeps sequences that
/// share a prompt together when a trace is split into training and held-out positions.
/// </summary>
public sealed record TraceRequest
{
    private TraceRequest(int[] prompt, int group, int[]? given, SamplingOptions? sampling, int count)
    {
        if (prompt.Length == 0) throw new ArgumentException("A traced sequence needs at least one prompt token (BOS).");
        if (group < 0) throw new ArgumentOutOfRangeException($"A trace group is 0 or more, not {group}.", innerException: null);
        Prompt = prompt;
        Group = group;
        Given = given;
        Sampling = sampling;
        Count = count;
    }

    /// <summary>Tokens that run as a prompt (full depth, nothing recorded).</summary>
    public int[] Prompt { get; }

    public int Group { get; }

    /// <summary>The continuation fed token by token; null when the model draws it (<see cref="Sampling"/>).</summary>
    public int[]? Given { get; }

    /// <summary>How the model draws its own continuation (temperature 0: greedy); null for a given continuation.</summary>
    public SamplingOptions? Sampling { get; }

    /// <summary>Continuation tokens: the given ones, or at most this many drawn (fewer when EOS ends it).</summary>
    public int Count { get; }

    /// <summary>The prompt followed by <paramref name="continuation"/>, fed as generated tokens.</summary>
    public static TraceRequest Teacher(int[] prompt, int[] continuation, int group)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        if (continuation.Length == 0) throw new ArgumentException("A given continuation needs at least one token.");
        return new(prompt, group, continuation, null, continuation.Length);
    }

    /// <summary>The prompt followed by up to <paramref name="count"/> tokens the model picks itself with <paramref name="sampling"/>.</summary>
    public static TraceRequest Generate(int[] prompt, SamplingOptions sampling, int count, int group)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        if (count < 1) throw new ArgumentOutOfRangeException($"At least one continuation token is needed, not {count}.", innerException: null);
        return new(prompt, group, null, sampling, count);
    }

    /// <summary>
    /// Each prompt's greedy continuation and <paramref name="samples"/> sampled ones (temperature 1, the model's own
    /// distribution; each from its own seed derived from <paramref name="seed"/>, the prompt's index and the sample's),
    /// <paramref name="count"/> tokens at most; prompt i is group i.
    /// </summary>
    public static IEnumerable<TraceRequest> Continuations(IReadOnlyList<int[]> prompts, int count, int samples, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (samples < 0) throw new ArgumentOutOfRangeException($"The number of sampled continuations is 0 or more, not {samples}.", innerException: null);
        for (var i = 0; i < prompts.Count; i++)
        {
            yield return Generate(prompts[i], SamplingOptions.Greedy, count, i);
            for (var j = 0; j < samples; j++)
                yield return Generate(prompts[i], new SamplingOptions { Temperature = 1, Seed = unchecked(seed * 0x9E3779B97F4A7C15UL + (ulong)i * 1024 + (ulong)j + 1) }, count, i);
        }
    }

    /// <summary>
    /// A text cut into windows of <paramref name="window"/> tokens, each its own sequence (its first token the prompt,
    /// the rest given), numbered as groups from <paramref name="firstGroup"/>; a trailing window under two tokens is dropped.
    /// </summary>
    public static IEnumerable<TraceRequest> Windows(IReadOnlyList<int> tokens, int window, int firstGroup)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (window < 2) throw new ArgumentOutOfRangeException($"A window needs at least two tokens, not {window}.", innerException: null);
        for (int start = 0, group = firstGroup; tokens.Count - start >= 2; start += window, group++)
        {
            var length = Math.Min(window, tokens.Count - start);
            var slice = new int[length];
            for (var i = 0; i < length; i++) slice[i] = tokens[start + i];
            yield return Teacher(slice[..1], slice[1..], group);
        }
    }
}
