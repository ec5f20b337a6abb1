using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Engines;
using SpecializedInfer.Generator.Tests.Support;
using Xunit.Abstractions;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// The dynamic-depth plans under Plans/ on their generated engines alone: their thresholds must keep them dynamic
/// (some tokens leave or skip, some do not), or equivalence with the reference would prove little; and recomputation
/// must leave exactly the cache the full model builds.
/// </summary>
public sealed class DynamicDepthTests(ITestOutputHelper output)
{
    public static TheoryData<string> Plans() => new(
        "S260Margin", "S260Entropy", "S260Saturation", "S260Patience", "S260Ensemble", "S260Learnedexit", "S260Learnedskip",
        "S260Cosskip", "S260Recompute", "S260Recomputedepth", "S260Recomputecombo", "S260hExithead", "S260hAdapter", "OddhExithead");

    /// <summary>8 prompt tokens, then 48 generated tokens, each the engine's own argmax; then 8 full-depth tokens.</summary>
    private static SessionStatistics Run(ILanguageModel engine)
    {
        using var session = engine.CreateSession(64);
        var vocab = engine.Config.VocabSize;
        var logits = session.Forward([1, 403 % vocab, 407 % vocab, 261 % vocab, 378 % vocab, 13, 30, 72]).ToArray();
        for (var pos = 8; pos < 56; pos++) logits = session.Forward(Comparison.ArgMax(logits)).ToArray();
        for (var pos = 56; pos < 64; pos++) logits = session.Forward([Comparison.ArgMax(logits)]).ToArray();
        return session.Statistics;
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void The_plan_keeps_generated_tokens_at_different_depths(string engineName)
    {
        var type = EngineCatalog.ByName(engineName);
        using var engine = EngineCatalog.Load(type, TestModels.PathFor(EngineCatalog.PlanPath(type)));
        var stats = Run(engine);
        var exits = stats.ExitsPerStep.ToArray();
        var skips = stats.SkipsPerStep.ToArray();
        output.WriteLine($"{engineName}: {engine.Schedule.Describe()}");
        output.WriteLine($"  exits per step {string.Join(" ", exits)}; skips per step {string.Join(" ", skips)}; steps run {string.Join(" ", stats.StepsHistogram.ToArray())}; recomputed {stats.RecomputedSteps}");
        Assert.Equal(48, stats.GeneratedTokens);
        var schedule = engine.Schedule;
        if (schedule.Exits.Any()) Assert.InRange(exits.Sum(), 1, 47);
        foreach (var step in schedule.Steps.Where(s => s.Skip is not null))
            Assert.InRange(skips[step.Index], 1, 47);
        if (schedule.KvFill == Planning.KvFill.Recompute) Assert.True(stats.RecomputedSteps > 0, "nothing was recomputed");
    }

    [Fact]
    public void Recomputation_leaves_the_cache_the_full_model_builds()
    {
        // Without skips, a parked position later runs exactly the steps it missed, on exactly its own state: once a
        // full-depth token has completed every parked position, the cache is the full model's, and so are the logits.
        using var recompute = S260Recompute.Load(TestModels.Stories260K);
        using var full = S260Full.Load(TestModels.Stories260K);
        using var r = recompute.CreateSession(64);
        var tokens = new List<int> { 1, 403, 407, 261 };
        var logits = r.Forward(tokens.ToArray()).ToArray();
        for (var i = 0; i < 30; i++)
        {
            tokens.Add(Comparison.ArgMax(logits));
            logits = r.Forward(tokens[^1]).ToArray();
        }
        Assert.True(r.Statistics.ExitsPerStep.ToArray().Sum() > 0);
        tokens.Add(Comparison.ArgMax(logits));
        var completed = r.Forward([tokens[^1]]).ToArray();
        Assert.True(r.Statistics.RecomputedSteps > 0);
        using var f = full.CreateSession(64);
        var expected = f.Forward(tokens.ToArray()).ToArray();
        Assert.True(Comparison.MaxAbsDiff(completed, expected) <= 1e-5f, $"differs by {Comparison.MaxAbsDiff(completed, expected)}");
    }

    [Fact]
    public void Rewinding_drops_parked_positions_past_the_new_end()
    {
        // Positions parked past the rewind point are gone: evaluating other tokens there must not recompute them.
        using var engine = S260Recomputedepth.Load(TestModels.Stories260K); // every generated token parks
        using var session = engine.CreateSession(64);
        session.Forward([1, 403, 407]);
        for (var i = 0; i < 10; i++) session.Forward(30 + i);
        session.Rewind(3);
        session.Forward([50]);
        Assert.Equal(0, session.Statistics.RecomputedSteps);
        session.Forward(51);
        session.Forward([52]);
        Assert.InRange(session.Statistics.RecomputedSteps, 2, 4); // position 4 missed steps 3 and 4, or 1 to 4 if it left after step 0
    }
}
