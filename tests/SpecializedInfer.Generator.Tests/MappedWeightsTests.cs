using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using SpecializedInfer.Engine;
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
    ];

    [Fact]
    public void Engines_reading_the_file_mapping_match_the_reference()
    {
        var plans = Path.Combine(AppContext.BaseDirectory, "Plans");
        var source = "namespace Mapped;\n" + string.Join("\n", Engines.Select(e => $"[SpecializedInfer.SpecializedEngine(\"Plans/{e.Plan}\")] public partial class {e.Class};"));
        var texts = Directory.GetFiles(plans, "*.json")
            .Select(f => (AdditionalText)new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/Plans/{Path.GetFileName(f)}", File.ReadAllText(f)));
        var (compilation, diagnostics, result) = GeneratorHarness.Run(GeneratorHarness.Compilation(source), texts,
            new Dictionary<string, string> { ["SpecializedInferWeightCopyLimit"] = "0" });
        Assert.DoesNotContain(diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.All(result.GeneratedTrees, t => Assert.DoesNotContain("CopyWeights", t.ToString()));

        using var image = new MemoryStream();
        var emit = compilation.Emit(image);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        image.Position = 0;
        var context = new AssemblyLoadContext("mapped-engines", isCollectible: true);
        try
        {
            var assembly = context.LoadFromStream(image);
            foreach (var (cls, plan) in Engines)
            {
                var planPath = Path.Combine(plans, plan);
                var modelPath = TestModels.PathFor(planPath);
                var load = assembly.GetType($"Mapped.{cls}", throwOnError: true)!.GetMethod("Load", [typeof(string)])!;
                using var generated = (ILanguageModel)load.Invoke(null, [modelPath])!;
                using var reference = ReferenceEngine.Load(modelPath, planPath);
                Comparison.Run(generated, reference, reference.Config.VocabSize, observe: false);
            }
        }
        finally
        {
            context.Unload();
        }
    }
}
