using SpecializedInfer.Generator.Tests.Support;
using SpecializedInfer.Models;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// A dim-1 model: the query, key, value, attention output and down projections are matrices of a single row, every
/// matrix has one column short of a cache line, and the aligned copy pads each row to 16 floats. The engine must
/// store a one-row projection as the padded matrix its kernel reads (not unpadded, like a norm of the same length).
/// </summary>
public sealed class OneRowMatrixTests
{
    private static readonly SyntheticModelSpec DimOne = new()
    {
        Name = "dim1", Dim = 1, HiddenDim = 3, Layers = 2, Heads = 1, KvHeads = 1, RotaryDims = 0,
        VocabSize = SyntheticVocabulary.MinimumSize, ContextLength = 64, TiedOutput = false, Seed = 21,
    };

    [Fact]
    public void A_dim_one_engine_with_its_weights_copied_matches_the_reference()
    {
        var dir = Directory.CreateTempSubdirectory("si-dim1-").FullName;
        try
        {
            var model = Path.Combine(dir, "dim1.gguf");
            SyntheticModel.Write(DimOne, model);
            string manifest;
            using (var weights = LlamaWeights.Load(model, layersToBind: []))
                manifest = ManifestWriter.ToJson(ManifestCheck.FromConfig(weights.Config, "dim1"));
            // Exits after step 0 make generated tokens leave the K/V of step 1 to propagation: every projection kind runs.
            const string plan = """{ "manifest": "dim1.model.json", "exits": [ { "afterStep": 0, "criterion": "maxProbability", "threshold": 0.5 } ] }""";
            var planPath = Path.Combine(dir, "dim1.plan.json");
            File.WriteAllText(Path.Combine(dir, "dim1.model.json"), manifest);
            File.WriteAllText(planPath, plan);
            List<Microsoft.CodeAnalysis.AdditionalText> texts =
            [
                new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/dim1/dim1.model.json", manifest),
                new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/dim1/dim1.plan.json", plan),
            ];
            var result = InMemoryEngines.CompileAndLoad("namespace DimOne; [SpecializedInfer.SpecializedEngine(\"dim1/dim1.plan.json\")] public partial class Engine;",
                texts, assembly => InMemoryEngines.CompareWithReference(assembly, "DimOne.Engine", model, planPath));
            Assert.Contains(result.GeneratedTrees, t => t.ToString().Contains("CopyWeights")); // the aligned copy, with padded rows
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
