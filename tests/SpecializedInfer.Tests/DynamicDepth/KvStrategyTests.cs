using System.Numerics.Tensors;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Tests.DynamicDepth;

/// <summary>
/// What a token that runs deeper than the tokens before it attends over. The oracle for recompute is the full model:
/// an exited position that later runs its missing steps ends with exactly the K/V the full model stores, so the
/// whole cache, and every full-depth answer, must equal the full model's bit for bit.
/// </summary>
public sealed class KvStrategyTests : DynamicDepthTestBase
{
    private const string ExitAfter1 = "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0 } ]";

    /// <summary>The prompt, <paramref name="generated"/> continuation tokens as generated tokens, then one more prompt token (full depth).</summary>
    private static float[] Feed(IInferenceSession session, int generated, int last = 140)
    {
        session.Forward(Prompt);
        for (var i = 0; i < generated; i++) session.Forward(Continuation[i]);
        return session.Forward([last]).ToArray();
    }

    private static void AssertSameCache(ReferenceSession expected, ReferenceSession actual, int positions, int steps = 5)
    {
        for (var s = 0; s < steps; s++)
            for (var p = 0; p < positions; p++)
            {
                Assert.True(expected.CachedKey(s, p).SequenceEqual(actual.CachedKey(s, p)), $"key of step {s} at position {p}");
                Assert.True(expected.CachedValue(s, p).SequenceEqual(actual.CachedValue(s, p)), $"value of step {s} at position {p}");
            }
    }

    [Fact]
    public void Recompute_completes_exited_positions_exactly_as_the_full_model_would_have()
    {
        using var full = ReferenceEngine.Load(Stories);
        using var planned = ReferenceEngine.Load(Stories, Plan(ExitAfter1 + ", \"kvFill\": \"recompute\""));
        var reference = (ReferenceSession)full.CreateSession(64);
        var session = (ReferenceSession)planned.CreateSession(64);
        const int generated = 12;
        var expected = Feed(reference, generated);
        var actual = Feed(session, generated);

        Assert.Equal(expected, actual);
        AssertSameCache(reference, session, session.Position);
        Assert.Equal(generated, session.Statistics.ExitsPerStep[1]);
        Assert.Equal(generated * 3, session.Statistics.RecomputedSteps); // steps 2, 3, 4 of every exited position
    }

    [Fact]
    public void Recompute_runs_nothing_until_a_deeper_token_needs_it()
    {
        using var planned = ReferenceEngine.Load(Stories, Plan(ExitAfter1 + ", \"kvFill\": \"recompute\""));
        var session = (ReferenceSession)planned.CreateSession(64);
        session.Forward(Prompt);
        for (var i = 0; i < 5; i++) session.Forward(Continuation[i]);
        Assert.Equal(0, session.Statistics.RecomputedSteps);

        // Nothing was projected: the parked positions' slots of steps 2..4 are still empty.
        for (var s = 2; s < 5; s++)
            for (var p = Prompt.Length; p < session.Position; p++)
                Assert.True(session.CachedKey(s, p).IndexOfAnyExcept(0f) < 0, $"step {s} position {p} should not be filled yet");
    }

    [Fact]
    public void Recompute_after_shallow_and_mixed_depths_equals_the_full_model()
    {
        // Tokens leave after step 0 or step 2 (depending on the token), decode depth 4: positions park at 1, 3 or 4 steps.
        using var full = ReferenceEngine.Load(Stories);
        using var planned = ReferenceEngine.Load(Stories, Plan(
            "\"decodeDepth\": 4, \"exits\": [ { \"afterStep\": 0, \"criterion\": \"maxProbability\", \"threshold\": 0.5 }, { \"afterStep\": 2, \"criterion\": \"maxProbability\", \"threshold\": 0.3 } ], \"kvFill\": \"recompute\""));
        var reference = (ReferenceSession)full.CreateSession(64);
        var session = (ReferenceSession)planned.CreateSession(64);
        var expected = Feed(reference, Continuation.Length);
        var actual = Feed(session, Continuation.Length);
        Assert.Equal(expected, actual);
        AssertSameCache(reference, session, session.Position);
        var histogram = session.Statistics.StepsHistogram.ToArray();
        Assert.True(histogram.Count(n => n > 0) >= 2, $"depths should vary: {string.Join(",", histogram)}");
    }

    [Fact]
    public void Rewind_drops_parked_positions_past_the_new_end()
    {
        using var full = ReferenceEngine.Load(Stories);
        using var planned = ReferenceEngine.Load(Stories, Plan(ExitAfter1 + ", \"kvFill\": \"recompute\""));
        var reference = (ReferenceSession)full.CreateSession(64);
        var session = (ReferenceSession)planned.CreateSession(64);
        session.Forward(Prompt);
        for (var i = 0; i < 8; i++) session.Forward(Continuation[i]);
        session.Rewind(Prompt.Length + 4);
        var actual = session.Forward([140]).ToArray();

        var expected = Feed(reference, 4);
        Assert.Equal(expected, actual);
        AssertSameCache(reference, session, session.Position);
        Assert.Equal(4 * 3, session.Statistics.RecomputedSteps); // only the four positions still in the sequence
    }

    [Fact]
    public void Recompute_gives_batched_and_one_at_a_time_prompts_the_same_results()
    {
        using var planned = ReferenceEngine.Load(Stories, Plan(ExitAfter1 + ", \"kvFill\": \"recompute\""));
        var batched = (ReferenceSession)planned.CreateSession(64);
        var single = (ReferenceSession)planned.CreateSession(64);
        foreach (var s in new[] { batched, single })
        {
            s.Forward(Prompt);
            for (var i = 0; i < 6; i++) s.Forward(Continuation[i]);
        }
        int[] tail = [45, 400, 118, 99];
        var a = batched.Forward(tail).ToArray();
        float[] b = [];
        foreach (var t in tail) b = single.Forward([t]).ToArray();
        Assert.Equal(a, b);
        AssertSameCache(single, batched, batched.Position);
    }

    [Fact]
    public void Propagate_leaves_no_missing_entries_after_exits()
    {
        using var planned = ReferenceEngine.Load(Stories, Plan("\"exits\": [ { \"afterStep\": 0, \"criterion\": \"maxProbability\", \"threshold\": 0 } ]"));
        var session = (ReferenceSession)planned.CreateSession(64);
        var trace = new Trace();
        session.Observer = trace;
        session.Forward(Prompt);
        for (var i = 0; i < 10; i++) session.Forward(Continuation[i]);
        Assert.Equal(0, session.Statistics.RecomputedSteps);

        // Each exited position's slots of steps 1..4 hold the projection of its state after step 0.
        var c = planned.Config;
        var rope = new RopeTable(64, c.RotaryDims, c.RopeTheta);
        for (var p = Prompt.Length; p < session.Position; p++)
        {
            Assert.False(trace.Ran(p, 1));
            for (var s = 0; s < 5; s++) Assert.True(session.CachedKey(s, p).IndexOfAnyExcept(0f) >= 0, $"step {s} position {p}");
            for (var s = 1; s < 5; s++)
            {
                var (k, v) = Projection(planned, s, trace.States[(p, 0)], p, rope);
                AssertClose(k, session.CachedKey(s, p), 1e-5);
                AssertClose(v, session.CachedValue(s, p), 1e-5);
            }
        }
    }

    [Theory]
    [InlineData("propagate")]
    [InlineData("recompute")]
    public void Generated_tokens_allocate_nothing_whatever_the_plan_does(string kvFill)
    {
        var probe = Probe(0.5f, Direction(64, seed: 5));
        using var planned = ReferenceEngine.Load(Stories, Plan(
            "\"skip\": [ { \"layer\": 2, \"test\": \"cosine\", \"threshold\": 0.9 }, { \"layer\": 3, \"test\": \"learned\", \"probe\": \"" + probe + "\", \"threshold\": 0.6 } ], " +
            "\"exits\": [ { \"afterStep\": 0, \"criterion\": \"entropy\", \"threshold\": 1 }, " +
            "{ \"afterStep\": 1, \"criterion\": \"ensemble\", \"votes\": 2, \"members\": [ { \"criterion\": \"margin\", \"threshold\": 0.3 }, { \"criterion\": \"stateSaturation\", \"threshold\": 0.8 }, { \"criterion\": \"learned\", \"probe\": \"" + probe + "\", \"threshold\": 0.5 } ] }, " +
            "{ \"afterStep\": 2, \"criterion\": \"patience\", \"patience\": 2 }, { \"afterStep\": 3, \"criterion\": \"maxProbability\", \"threshold\": 0.4 } ], " +
            $"\"kvFill\": \"{kvFill}\""));
        var session = planned.CreateSession(64);
        session.Forward(Prompt);
        session.Forward(Continuation[0]);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 1; i < Continuation.Length; i++) session.Forward(Continuation[i]);
        session.Forward([140, 141]);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(Continuation.Length, session.Statistics.GeneratedTokens);
    }

    /// <summary>RMSNorm with the step's attention norm, K and V projections, RoPE on K: computed here by hand.</summary>
    internal static (double[] Key, double[] Value) Projection(ReferenceEngine engine, int step, float[] hidden, int pos, RopeTable rope)
    {
        var c = engine.Config;
        var w = engine.Weights.Layer(engine.Schedule.Steps[step].WeightsOf);
        var x = Normalize(hidden, c.NormEps).Select((v, i) => (float)(v * w.AttentionNorm.Span[i])).ToArray();
        var k = Enumerable.Range(0, c.KvDim).Select(r => TensorPrimitives.Dot(w.Key.Row(r), x)).ToArray();
        var v = Enumerable.Range(0, c.KvDim).Select(r => (double)TensorPrimitives.Dot(w.Value.Row(r), x)).ToArray();
        rope.Apply(k, c.KvHeads, c.HeadDim, pos);
        return (k.Select(f => (double)f).ToArray(), v);
    }
}
