using SpecializedInfer.Engine;

namespace SpecializedInfer.Testing;

/// <summary>
/// What every engine's sessions promise, written once and run over each engine: the reference engine
/// (SpecializedInfer.Tests) and generated engines (SpecializedInfer.Generator.Tests) each derive a class that says
/// how to load stories260K at full depth and with an early exit. Numeric agreement between engines is tested
/// elsewhere (llama.cpp and equivalence tests); here, only behaviour.
/// </summary>
/// <remarks>This file is linked into both test projects (tests/Shared).</remarks>
public abstract class SessionContract
{
    protected const int Vocab = 512;
    protected const int Layers = 5;
    protected const int Dim = 64;
    protected static readonly int[] Prompt = [1, 403, 407, 261, 378, 13, 30];

    protected static string Stories260K => ModelLocator.Find("stories260K.gguf");

    /// <summary>stories260K at full depth (an empty plan).</summary>
    protected abstract ILanguageModel LoadFull();

    /// <summary>stories260K with an early exit after step 3 (generated tokens may run 4 of 5 steps).</summary>
    protected abstract ILanguageModel LoadWithExit();

    private ILanguageModel Load(bool withExit) => withExit ? LoadWithExit() : LoadFull();

    [Fact]
    public void A_session_starts_empty_and_advances_one_position_per_token()
    {
        using var engine = LoadFull();
        Assert.Equal(engine.Config.ContextLength, engine.CreateSession().ContextLength);
        using var session = engine.CreateSession(16);
        Assert.Equal((0, 16), (session.Position, session.ContextLength));
        Assert.Equal(Vocab, session.Forward(Prompt.AsSpan(0, 3)).Length);
        Assert.Equal(3, session.Position);
        Assert.Equal(Vocab, session.Forward(5).Length);
        Assert.Equal(4, session.Position);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Rewind_and_replay_reproduce_the_logits(bool withExit)
    {
        using var engine = Load(withExit);
        using var session = engine.CreateSession(64);
        session.Forward(Prompt);
        var first = session.Forward(99).ToArray();
        session.Rewind(3);
        Assert.Equal(3, session.Position);
        session.Forward(Prompt.AsSpan(3));
        Assert.Equal(first, session.Forward(99).ToArray());

        Assert.Throws<ArgumentOutOfRangeException>(() => session.Rewind(session.Position + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Rewind(-1));
        Assert.Equal(Prompt.Length + 1, session.Position);

        // Rewinding to 0 is a fresh sequence.
        session.Rewind(0);
        using var fresh = engine.CreateSession(64);
        Assert.Equal(fresh.Forward(Prompt).ToArray(), session.Forward(Prompt).ToArray());
    }

    [Fact]
    public void Bad_tokens_and_a_full_context_are_errors_that_change_nothing()
    {
        using var engine = LoadFull();
        using var session = engine.CreateSession(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward(Vocab));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward(-1));
        Assert.Throws<ArgumentException>(() => session.Forward(ReadOnlySpan<int>.Empty));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward([1, 2, Vocab + 88]));
        Assert.Equal(0, session.Position);
        Assert.Throws<InvalidOperationException>(() => session.Forward([1, 2, 3, 4]));
        Assert.Equal(0, session.Position);
        Assert.Equal(0, session.Statistics.PromptTokens);

        var logits = session.Forward([1, 2]).ToArray();
        using var clean = engine.CreateSession(3);
        Assert.Equal(clean.Forward([1, 2]).ToArray(), logits);
        session.Forward(3);
        Assert.Throws<InvalidOperationException>(() => session.Forward(4));
        Assert.Throws<InvalidOperationException>(() => session.Forward([4]));
        Assert.Equal(3, session.Position);
    }

    [Fact]
    public void Argument_errors_are_sentences_without_parameter_names()
    {
        // What reaches a user (si run prints exception messages) reads as a sentence: the exception types stay, but
        // no "(Parameter 'token')" and no "Actual value was".
        using var engine = LoadFull();
        using var session = engine.CreateSession(8);
        AssertSentence("Token id 512 is outside the vocabulary: ids run from 0 to 511.", Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward(Vocab)));
        AssertSentence("Token id -1 is outside the vocabulary: ids run from 0 to 511.", Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward(-1)));
        AssertSentence("Token id -1 is outside the vocabulary: ids run from 0 to 511.", Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward([1, -1])));
        AssertSentence("At least one token is needed.", Assert.Throws<ArgumentException>(() => session.Forward(ReadOnlySpan<int>.Empty)));
        session.Forward([1, 2]);
        AssertSentence("The session can rewind to a position from 0 to 2, not 3.", Assert.Throws<ArgumentOutOfRangeException>(() => session.Rewind(3)));
        AssertSentence("The session can rewind to a position from 0 to 2, not -1.", Assert.Throws<ArgumentOutOfRangeException>(() => session.Rewind(-1)));
        AssertSentence("The session's context of 8 positions is full.", Assert.Throws<InvalidOperationException>(() => session.Forward([1, 2, 3, 4, 5, 6, 7])));
    }

    private static void AssertSentence(string expected, Exception e)
    {
        Assert.Equal(expected, e.Message);
        Assert.Null((e as ArgumentException)?.ParamName);
    }

    [Fact]
    public void Growing_the_cache_changes_no_logit()
    {
        // Sessions hold 256 positions at first and grow (ContextCapacity): one token at a time to 600 positions grows
        // 256 → 512 → 608; 100 tokens then 500 in one call grows 256 → 608 at once. Both must keep every cached entry.
        using var engine = LoadFull();
        var tokens = Enumerable.Range(0, 600).Select(i => i == 0 ? 1 : (i * 37 + 11) % Vocab).ToArray();
        using var stepwise = engine.CreateSession(600);
        var last = Array.Empty<float>();
        foreach (var t in tokens) last = stepwise.Forward([t]).ToArray();
        using var jump = engine.CreateSession();
        jump.Forward(tokens.AsSpan(0, 100));
        Assert.Equal(last, jump.Forward(tokens.AsSpan(100)).ToArray());
        Assert.Equal(600, jump.Position);
    }

    /// <summary>
    /// A prompt's logits and cache do not depend on how it is split into calls (generated F32 engines run prompts as a
    /// GEMM whose every output is one chain over the columns, whatever the chunk), and agree with feeding the tokens
    /// one at a time through Forward(int) within rounding: 1e-4 on the logits, as the engines' equivalence tests use.
    /// </summary>
    [Fact]
    public void A_prompt_gives_the_same_bits_however_it_is_split_and_agrees_with_one_token_at_a_time()
    {
        using var engine = LoadFull();
        var tokens = Enumerable.Range(0, 40).Select(i => (i * 37 + 1) % Vocab).ToArray();
        using var whole = engine.CreateSession(64);
        var expected = whole.Forward(tokens).ToArray();
        using var parts = engine.CreateSession(64);
        parts.Forward(tokens.AsSpan(0, 1));
        parts.Forward(tokens.AsSpan(1, 16));
        Assert.Equal(expected, parts.Forward(tokens.AsSpan(17)).ToArray());
        using var one = engine.CreateSession(64);
        var single = Array.Empty<float>();
        foreach (var t in tokens) single = one.Forward(t).ToArray();
        Assert.True(MaxAbsDiff(expected, single) <= 1e-4f, $"the prompt's logits are {MaxAbsDiff(expected, single)} from one token at a time");
        // The caches agree too: the next token sees the same past either way.
        var next = whole.Forward(5).ToArray();
        Assert.Equal(next, parts.Forward(5).ToArray());
        Assert.True(MaxAbsDiff(next, one.Forward(5)) <= 1e-4f, "the next token's logits after the prompt and after one token at a time");
    }

    private static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var worst = 0f;
        for (var i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
        return worst;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Statistics_count_prompt_tokens_and_the_depth_of_generated_ones(bool withExit)
    {
        using var engine = Load(withExit);
        using var session = engine.CreateSession(64);
        // Greedy tokens: the model is often sure of them, so the exit is taken.
        var logits = session.Forward(Prompt);
        for (var i = 0; i < 20; i++) logits = session.Forward(ArgMax(logits));
        var stats = session.Statistics;
        Assert.Equal(Prompt.Length, stats.PromptTokens);
        Assert.Equal(20, stats.GeneratedTokens);
        Assert.Equal(engine.Schedule.Steps.Count, stats.ScheduleSteps);
        var histogram = stats.StepsHistogram.ToArray();
        Assert.Equal(20, histogram.Sum());
        Assert.Equal(histogram.Select((count, steps) => (double)count * steps).Sum() / 20, stats.MeanStepsPerGeneratedToken, 12);
        // A token that exits after step s ran s + 1 steps; after the last step there is nothing to exit from.
        var exits = stats.ExitsPerStep.ToArray();
        Assert.Equal(0, exits[^1]);
        for (var s = 0; s < exits.Length - 1; s++) Assert.Equal(exits[s], histogram[s + 1]);
        Assert.Equal(20 - exits.Sum(), histogram[Layers]);
        if (withExit) Assert.InRange(exits.Sum(), 1, 19);
        else Assert.Equal(Layers, stats.MeanStepsPerGeneratedToken);
    }

    private static int ArgMax(ReadOnlySpan<float> logits) => System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits);

    [Fact]
    public void The_observer_sees_every_step_of_every_position_in_order()
    {
        using var engine = LoadFull();
        using var session = engine.CreateSession(16);
        var observer = new RecordingObserver();
        session.Observer = observer;
        session.Forward(Prompt.AsSpan(0, 3));
        session.Forward(Prompt[3]);
        Assert.Equal(4 * Layers, observer.Calls.Count);
        foreach (var position in Enumerable.Range(0, 4))
        {
            var calls = observer.Calls.Where(c => c.Position == position).ToList();
            Assert.Equal(Enumerable.Range(0, Layers), calls.Select(c => c.Step));
            Assert.Equal(Enumerable.Range(0, Layers), calls.Select(c => c.Layer));
        }
        Assert.All(observer.Calls, c => Assert.Equal(Dim, c.Hidden.Length));
        // The layers change the residual stream: consecutive outputs differ.
        Assert.NotEqual(observer.Calls[0].Hidden, observer.Calls[1].Hidden);

        session.Observer = null;
        session.Forward(Prompt[4]);
        Assert.Equal(4 * Layers, observer.Calls.Count);
    }

    [Fact]
    public void A_forward_step_allocates_nothing()
    {
        using var engine = LoadFull();
        using var session = engine.CreateSession(128);
        session.Forward(Prompt);
        for (var i = 0; i < 8; i++) session.Forward(i + 3); // warm up: JIT, statics
        // The runtime may allocate once on this thread while it recompiles a method (tiering, on-stack replacement),
        // which a loaded machine can push into the measured window; an allocation per step shows in every round.
        var allocated = new List<long>();
        for (var round = 0; round < 4; round++)
        {
            session.Rewind(0);
            var before = GC.GetAllocatedBytesForCurrentThread();
            session.Forward(Prompt);
            for (var i = 0; i < 64; i++) session.Forward(i + 11);
            session.Rewind(2);
            session.Forward(Prompt);
            allocated.Add(GC.GetAllocatedBytesForCurrentThread() - before);
            if (allocated[^1] == 0) return;
        }
        Assert.Fail($"Every round of 66 forward calls allocated: {string.Join(", ", allocated)} bytes.");
    }

    [Fact]
    public void Sessions_are_independent_and_dispose_more_than_once()
    {
        using var engine = LoadFull();
        var a = engine.CreateSession(16);
        var b = engine.CreateSession(16);
        var fromA = a.Forward(Prompt).ToArray();
        b.Forward([1, 2, 3]);
        a.Rewind(0);
        Assert.Equal(fromA, a.Forward(Prompt).ToArray());
        Assert.Equal(3, b.Position);
        a.Dispose();
        a.Dispose();
        b.Dispose();
        engine.Dispose();
        engine.Dispose();
    }

    private sealed class RecordingObserver : ILayerObserver
    {
        public List<(int Position, int Step, int Layer, float[] Hidden)> Calls { get; } = [];
        public void OnLayerOutput(int position, int step, int layer, ReadOnlySpan<float> hidden) => Calls.Add((position, step, layer, hidden.ToArray()));
    }
}
