using SpecializedInfer.Engine;
using Xunit.Abstractions;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// The real proof: every engine generated into this assembly (one per plan under Plans/) computes what the
/// reference engine computes for the same plan, within 1e-4 on the logits at every one of 64 positions, with the
/// same statistics and the same observer calls.
/// </summary>
public sealed class EquivalenceTests(ITestOutputHelper output)
{
    public static TheoryData<string> Engines() => new(EngineCatalog.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Engines))]
    public void Generated_engine_matches_the_reference(string engineName)
    {
        var type = EngineCatalog.ByName(engineName);
        var planPath = EngineCatalog.PlanPath(type);
        var modelPath = TestModels.PathFor(planPath);
        using var generated = EngineCatalog.Load(type, modelPath);
        using var reference = ReferenceEngine.Load(modelPath, planPath);

        Assert.Equal(reference.Schedule, EngineCatalog.CompiledSchedule(type));
        Assert.Equal(reference.Schedule, generated.Schedule);
        Assert.Equal(engineName, generated.Name);
        Assert.Equal(reference.Config, generated.Config);
        var (worst, stats) = Comparison.Run(generated, reference, reference.Config.VocabSize);
        output.WriteLine($"{engineName}: {generated.Schedule.Describe()}; worst logit difference {worst:E2}; steps run {string.Join(" ", stats.StepsHistogram.ToArray())}; exits {string.Join(" ", stats.ExitsPerStep.ToArray())}; skips {string.Join(" ", stats.SkipsPerStep.ToArray())}; recomputed {stats.RecomputedSteps}");
    }

    /// <summary>
    /// 600 positions: sessions start holding 256 and grow twice (ContextCapacity), re-striding the transposed key
    /// caches, growing values, scores, rotary table and parked states; the reference is checked against llama.cpp over
    /// the same 600 positions.
    /// </summary>
    [Theory]
    [InlineData("S260Full")]
    [InlineData("S260Combo")]
    [InlineData("S260Recomputecombo")]
    [InlineData("S260Sublayerrecompute")]
    [InlineData("MhaFull")]
    public void Generated_engine_matches_the_reference_as_the_cache_grows(string engineName)
    {
        var type = EngineCatalog.ByName(engineName);
        var planPath = EngineCatalog.PlanPath(type);
        var modelPath = TestModels.PathFor(planPath);
        using var generated = EngineCatalog.Load(type, modelPath);
        using var reference = ReferenceEngine.Load(modelPath, planPath);
        var (worst, stats) = Comparison.Run(generated, reference, reference.Config.VocabSize, observe: false, positions: 600);
        output.WriteLine($"{engineName}: worst logit difference {worst:E2} over 600 positions; recomputed {stats.RecomputedSteps}");
    }

    [Fact]
    public void Every_plan_file_has_an_engine()
    {
        var plans = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Plans"), "*.plan.json").Select(Path.GetFileName).Order();
        Assert.Equal(plans, EngineCatalog.All.Select(t => Path.GetFileName(EngineCatalog.PlanFile(t))).Order());
        Assert.True(EngineCatalog.All.Count >= 20);
    }
}
