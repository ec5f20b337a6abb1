using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Engines;
using SpecializedInfer.Generator.Tests.Support;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generator.Tests;

/// <summary>Exit points as docs/plans.md rule 3 defines them, on the generated engines.</summary>
public sealed class ExitTests
{
    private static string Model => TestModels.Stories260K;

    [Fact]
    public void With_threshold_0_every_generated_token_leaves_at_the_first_exit_point()
    {
        using var engine = S260Exit0.Load(Model); // exits after steps 1 and 3, both at 0
        using var session = engine.CreateSession(64);
        session.Forward([1, 403, 407]);
        for (var i = 0; i < 20; i++) session.Forward(i + 30);
        Assert.Equal(20, session.Statistics.ExitsPerStep[1]);
        Assert.Equal(20, session.Statistics.StepsHistogram[2]);
        Assert.Equal(20, session.Statistics.GeneratedTokens);
        Assert.Equal(3, session.Statistics.PromptTokens);
    }

    [Fact]
    public void With_thresholds_above_1_no_token_leaves()
    {
        using var engine = S260Exitnever.Load(Model);
        using var session = engine.CreateSession(64);
        session.Forward([1, 403, 407]);
        for (var i = 0; i < 20; i++) session.Forward(i + 30);
        Assert.All(session.Statistics.ExitsPerStep.ToArray(), n => Assert.Equal(0, n));
        Assert.Equal(20, session.Statistics.StepsHistogram[5]);
    }

    [Fact]
    public void After_tokens_that_left_early_a_full_depth_token_matches_the_reference()
    {
        // Every generated token leaves after step 1, so steps 2-4 hold only propagated K/V for those positions;
        // a prompt token then runs all five steps and attends over them.
        using var generated = S260Exit0.Load(Model);
        using var reference = ReferenceEngine.Load(Model, EngineCatalog.PlanPath(typeof(S260Exit0)));
        using var g = generated.CreateSession(64);
        using var r = reference.CreateSession(64);
        g.Forward([1, 403]);
        r.Forward([1, 403]);
        for (var i = 0; i < 30; i++)
        {
            var expected = r.Forward(i + 300).ToArray();
            Assert.True(Comparison.MaxAbsDiff(g.Forward(i + 300), expected) <= Comparison.Tolerance);
        }
        Assert.Equal(30, g.Statistics.ExitsPerStep[1]);
        var full = r.Forward([261]).ToArray();
        Assert.True(Comparison.MaxAbsDiff(g.Forward([261]), full) <= Comparison.Tolerance);
        var deeper = r.Forward([378]).ToArray();
        Assert.True(Comparison.MaxAbsDiff(g.Forward([378]), deeper) <= Comparison.Tolerance);
    }

    [Fact]
    public void An_exiting_token_keeps_the_exit_heads_logits()
    {
        // Steps 0 and 1 never depend on later steps, so a token leaving after step 1 has exactly the logits of
        // the model cut after layer 1 (order [0, 1]), whose head is the same output norm and matrix.
        var cut = ExecutionSchedule.Resolve(new LayerPlan { Manifest = "stories260K.model.json", Order = new EquatableArray<int>([0, 1]) }, 5);
        using var exiting = S260Exit0.Load(Model);
        using var reference = ReferenceEngine.Load(Model, cut);
        using var e = exiting.CreateSession(16);
        using var r = reference.CreateSession(16);
        e.Forward([1, 403]);
        r.Forward([1, 403]);
        for (var i = 0; i < 8; i++)
        {
            var expected = r.Forward(i + 20).ToArray();
            Assert.True(Comparison.MaxAbsDiff(e.Forward(i + 20), expected) <= Comparison.Tolerance);
        }
        Assert.Equal(8, e.Statistics.ExitsPerStep[1]);
    }
}
