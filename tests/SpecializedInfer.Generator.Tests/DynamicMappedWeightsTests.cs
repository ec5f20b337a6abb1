using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Dynamic-depth engines with the weight copy switched off (SpecializedInferWeightCopyLimit = 0): exit heads are then
/// bound from the file mapping at load instead of copied into the arena, which the engines of this assembly never do.
/// </summary>
public sealed class DynamicMappedWeightsTests
{
    private static readonly (string Class, string Plan)[] Engines =
    [
        ("MappedExitHead", "s260h.exithead.plan.json"),
        ("MappedOddExitHead", "oddh.exithead.plan.json"), // tied output, a head shared by two exit points
        ("MappedRecomputeCombo", "s260.recomputecombo.plan.json"),
    ];

    [Fact]
    public void Dynamic_engines_reading_the_file_mapping_match_the_reference()
    {
        var source = "namespace MappedDynamic;\n" + string.Join("\n", Engines.Select(e => $"[SpecializedInfer.SpecializedEngine(\"Plans/{e.Plan}\")] public partial class {e.Class};"));
        var result = InMemoryEngines.CompileAndLoad(source, InMemoryEngines.PlanFiles(), assembly =>
        {
            foreach (var (cls, plan) in Engines)
            {
                var planPath = Path.Combine(InMemoryEngines.PlansFolder, plan);
                InMemoryEngines.CompareWithReference(assembly, $"MappedDynamic.{cls}", TestModels.PathFor(planPath), planPath);
            }
        }, new Dictionary<string, string> { ["SpecializedInferWeightCopyLimit"] = "0" });
        Assert.All(result.GeneratedTrees, t => Assert.DoesNotContain("CopyWeights", t.ToString()));
        Assert.Contains(result.GeneratedTrees, t => t.ToString().Contains("weights.BindExitHead("));
    }

    [Fact]
    public void A_missing_exit_head_tensor_fails_the_load()
    {
        // stories260K itself has no exit head: the engine must refuse it at Load, not at the first token that exits.
        var e = Assert.ThrowsAny<Exception>(() => SpecializedInfer.Generator.Tests.Engines.S260hExithead.Load(TestModels.Stories260K));
        Assert.Contains("exit.norm.weight", e.Message);
    }
}
