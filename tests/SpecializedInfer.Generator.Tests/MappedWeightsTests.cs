using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Engines of cache-sized models copy their weights into an aligned array (all the engines of this assembly do);
/// larger ones read the file mapping directly. This compiles engines in memory with the copy switched off
/// (SpecializedInferWeightCopyLimit = 0), loads them and checks them against the reference like the others.
/// </summary>
public sealed class MappedWeightsTests
{
    private static readonly (string Class, string Plan)[] Engines =
    [
        ("MappedRepeatshare", "s260.repeatshare.plan.json"),
        ("MappedCombo", "s260.combo.plan.json"),
        ("MappedOddExits", "odd.exits.plan.json"), // tied output
        ("MappedMha", "mha.full.plan.json"),       // prefetching kernels
        ("MappedMerge", "s260.merge.plan.json"),   // merged layers computed by the engine's constructor
        ("MappedSublayer", "s260.sublayer.plan.json"),
    ];

    [Fact]
    public void Engines_reading_the_file_mapping_match_the_reference()
    {
        var source = "namespace Mapped;\n" + string.Join("\n", Engines.Select(e => $"[SpecializedInfer.SpecializedEngine(\"Plans/{e.Plan}\")] public partial class {e.Class};"));
        var result = InMemoryEngines.CompileAndLoad(source, InMemoryEngines.PlanFiles(), assembly =>
        {
            foreach (var (cls, plan) in Engines)
            {
                var planPath = Path.Combine(InMemoryEngines.PlansFolder, plan);
                InMemoryEngines.CompareWithReference(assembly, $"Mapped.{cls}", TestModels.PathFor(planPath), planPath, observe: false);
            }
        }, new Dictionary<string, string> { ["SpecializedInferWeightCopyLimit"] = "0" });
        Assert.All(result.GeneratedTrees, t => Assert.DoesNotContain("CopyWeights", t.ToString()));
    }
}
