using SpecializedInfer.Engine;

namespace SpecializedInfer.Tests.DynamicDepth;

/// <summary>
/// Dynamic layer skipping. A skipped step leaves the residual alone, so the next step that runs receives the state
/// that entered the skipped one; its cache slot holds that state's projection. Both are visible in the cache: the
/// slots of the skipped steps and of the next executed step must all equal hand-computed projections of the state
/// the observer reported before the skip.
/// </summary>
public sealed class SkipTests : DynamicDepthTestBase
{
    private const int Tokens = 16;

    private static void AssertProjected(ReferenceEngine engine, ReferenceSession session, int step, float[] entering, int pos, RopeTable rope)
    {
        var (k, v) = KvStrategyTests.Projection(engine, step, entering, pos, rope);
        AssertClose(k, session.CachedKey(step, pos), 1e-5);
        AssertClose(v, session.CachedValue(step, pos), 1e-5);
    }

    [Fact]
    public void Rules_that_never_pass_change_nothing()
    {
        var never = Probe(-20, new float[64]);
        using var planned = ReferenceEngine.Load(Stories, Plan(
            $"\"skip\": [ {{ \"layer\": 2, \"test\": \"cosine\", \"threshold\": 1.5 }}, {{ \"layer\": 0, \"test\": \"learned\", \"probe\": \"{never}\", \"threshold\": 0.5 }} ]"));
        using var session = planned.CreateSession(64);
        var (_, fullLogits) = FullRun(Tokens);
        var logits = Generate(session, Tokens);
        for (var i = 0; i < Tokens; i++) Assert.Equal(fullLogits[i], logits[i]);
        Assert.All(session.Statistics.SkipsPerStep.ToArray(), n => Assert.Equal(0, n));
        Assert.Equal(5.0 * Tokens, session.Statistics.GeneratedSteps);
    }

    [Fact]
    public void Always_skipping_carries_the_state_past_the_steps_and_projects_it_into_their_slots()
    {
        using var planned = ReferenceEngine.Load(Stories, Plan(
            "\"skip\": [ { \"layer\": 2, \"test\": \"cosine\", \"threshold\": -1 }, { \"layer\": 3, \"test\": \"cosine\", \"threshold\": -1 } ]"));
        var session = (ReferenceSession)planned.CreateSession(64);
        var trace = new Trace();
        Generate(session, Tokens, trace);
        var rope = new RopeTable(64, planned.Config.RotaryDims, planned.Config.RopeTheta);
        for (var i = 0; i < Tokens; i++)
        {
            var pos = Prompt.Length + i;
            Assert.True(trace.Ran(pos, 1) && trace.Ran(pos, 4));
            Assert.False(trace.Ran(pos, 2) || trace.Ran(pos, 3), $"token {i} should skip steps 2 and 3");
            var afterStep1 = trace.States[(pos, 1)];
            foreach (var step in new[] { 2, 3, 4 }) AssertProjected(planned, session, step, afterStep1, pos, rope);
        }
        Assert.Equal(Tokens, session.Statistics.SkipsPerStep[2]);
        Assert.Equal(Tokens, session.Statistics.SkipsPerStep[3]);
        Assert.Equal(3L * Tokens, session.Statistics.GeneratedSteps);
        Assert.Equal(Tokens, session.Statistics.StepsHistogram[3]);
        Assert.Equal(0, session.Statistics.SkipsPerStep[4]);
    }

    [Fact]
    public void A_learned_rule_may_skip_step_0_and_then_projects_the_embedding()
    {
        using var planned = ReferenceEngine.Load(Stories, Plan($"\"skip\": [ {{ \"layer\": 0, \"test\": \"learned\", \"probe\": \"{Probe(20, new float[64])}\", \"threshold\": 0.9 }} ]"));
        var session = (ReferenceSession)planned.CreateSession(64);
        var trace = new Trace();
        Generate(session, Tokens, trace);
        var rope = new RopeTable(64, planned.Config.RotaryDims, planned.Config.RopeTheta);
        for (var i = 0; i < Tokens; i++)
        {
            var pos = Prompt.Length + i;
            Assert.False(trace.Ran(pos, 0));
            var embedding = planned.Weights.TokenEmbedding.Row(Continuation[i]).ToArray();
            AssertProjected(planned, session, 0, embedding, pos, rope);
            AssertProjected(planned, session, 1, embedding, pos, rope);
        }
        Assert.Equal(Tokens, session.Statistics.SkipsPerStep[0]);
    }

    [Theory]
    [InlineData("cosine")]
    [InlineData("learned")]
    public void Tokens_skip_exactly_when_the_test_computed_here_passes(string test)
    {
        // Rule on layer 3: cosine compares the states entering steps 2 and 3 (after steps 1 and 2); the probe reads
        // the state entering step 3. Thresholds are medians over the full model's states, so some tokens skip.
        var (full, _) = FullRun(Tokens);
        var eps = 1e-5f;
        var direction = Direction(64, seed: 11);
        double Measure(Trace t, int pos) => test == "cosine"
            ? Cosine(t.States[(pos, 1)], t.States[(pos, 2)])
            : ProbeScore(t.States[(pos, 2)], 0, direction, eps);
        var threshold = Median(Enumerable.Range(0, Tokens).Select(i => Measure(full, Prompt.Length + i)));
        var rule = test == "cosine"
            ? $"{{ \"layer\": 3, \"test\": \"cosine\", \"threshold\": {F(threshold)} }}"
            : $"{{ \"layer\": 3, \"test\": \"learned\", \"probe\": \"{Probe(0, direction)}\", \"threshold\": {F(threshold)} }}";
        using var planned = ReferenceEngine.Load(Stories, Plan($"\"skip\": [ {rule} ]"));
        Assert.Equal(eps, planned.Config.NormEps);
        var session = (ReferenceSession)planned.CreateSession(64);
        var trace = new Trace();
        Generate(session, Tokens, trace);

        var rope = new RopeTable(64, planned.Config.RotaryDims, planned.Config.RopeTheta);
        var skipped = 0;
        for (var i = 0; i < Tokens; i++)
        {
            var pos = Prompt.Length + i;
            var m = Measure(trace, pos);
            if (Math.Abs(m - threshold) < 1e-5) continue;
            var skip = m >= threshold;
            Assert.Equal(!skip, trace.Ran(pos, 3));
            if (skip)
            {
                skipped++;
                AssertProjected(planned, session, 3, trace.States[(pos, 2)], pos, rope);
                AssertProjected(planned, session, 4, trace.States[(pos, 2)], pos, rope);
            }
        }
        Assert.InRange(skipped, 1, Tokens - 1);
        Assert.Equal(skipped, session.Statistics.SkipsPerStep[3]);
        Assert.Equal(5L * Tokens - skipped, session.Statistics.GeneratedSteps);
    }

    [Fact]
    public void An_exit_after_a_skipped_step_answers_from_the_state_that_entered_it()
    {
        using var planned = ReferenceEngine.Load(Stories, Plan(
            "\"skip\": [ { \"layer\": 2, \"test\": \"cosine\", \"threshold\": -1 } ], \"exits\": [ { \"afterStep\": 2, \"criterion\": \"maxProbability\", \"threshold\": 0 } ]"));
        var session = (ReferenceSession)planned.CreateSession(64);
        var trace = new Trace();
        var logits = Generate(session, 8, trace);
        var w = planned.Weights;
        for (var i = 0; i < 8; i++)
            AssertClose(HeadLogits(trace.States[(Prompt.Length + i, 1)], w.OutputNorm.Span, w.Output, planned.Config.NormEps), logits[i]);
        Assert.Equal(8, session.Statistics.ExitsPerStep[2]);
        Assert.Equal(8, session.Statistics.SkipsPerStep[2]);
        Assert.Equal(16, session.Statistics.GeneratedSteps);
    }

    [Fact]
    public void Skipping_under_recompute_keeps_a_complete_cache()
    {
        // Tokens skip step 2 and leave after step 3; the next prompt token completes step 4 for them.
        using var planned = ReferenceEngine.Load(Stories, Plan(
            "\"skip\": [ { \"layer\": 2, \"test\": \"cosine\", \"threshold\": -1 } ], \"exits\": [ { \"afterStep\": 3, \"criterion\": \"maxProbability\", \"threshold\": 0 } ], \"kvFill\": \"recompute\""));
        var session = (ReferenceSession)planned.CreateSession(64);
        var trace = new Trace();
        Generate(session, 6, trace);
        var rope = new RopeTable(64, planned.Config.RotaryDims, planned.Config.RopeTheta);
        for (var i = 0; i < 6; i++) AssertProjected(planned, session, 2, trace.States[(Prompt.Length + i, 1)], Prompt.Length + i, rope);
        session.Forward([140]);
        Assert.Equal(6, session.Statistics.RecomputedSteps);
        for (var p = 0; p < session.Position; p++)
            for (var s = 0; s < 5; s++) Assert.True(session.CachedKey(s, p).IndexOfAnyExcept(0f) >= 0, $"step {s} position {p}");
    }
}
