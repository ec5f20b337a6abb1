using SpecializedInfer.Generator.Tests.Support;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Architectures beyond LLaMA 1/2 in generated engines. A Llama 3.2-shaped model (rope frequency factors read from
/// the file, base 500000, tied output) runs in a generated engine equal to the reference engine, which matches
/// llama.cpp on the same shape (SpecializedInfer.Tests' ArchitecturesVsLlamaCppTests). A qwen2 manifest has no
/// generated engine yet: the analyzer says so (SI0032) instead of the generator printing a LLaMA forward pass.
/// </summary>
public sealed class ArchitectureTests
{
    private static readonly SyntheticModelSpec Llama32 = new()
    {
        Name = "llama32", Dim = 128, HiddenDim = 384, Layers = 3, Heads = 8, KvHeads = 2, VocabSize = 600, ContextLength = 256,
        RopeTheta = 500000f, Llama3RopeScaling = true, Seed = 31,
    };

    [Fact]
    public void A_llama_3_engine_with_rope_frequency_factors_matches_the_reference()
    {
        var dir = Directory.CreateTempSubdirectory("si-llama32-").FullName;
        try
        {
            var model = Path.Combine(dir, "llama32.gguf");
            SyntheticModel.Write(Llama32, model);
            string manifest;
            using (var weights = LlamaWeights.Load(model, layersToBind: []))
                manifest = ManifestWriter.ToJson(ManifestCheck.FromConfig(weights.Config, "llama32"));
            Assert.Contains("\"ropeFrequencyFactors\": true", manifest);
            // An exit after step 1 with propagation: the rotary table also turns the keys projected for skipped steps.
            const string plan = """{ "manifest": "llama32.model.json", "exits": [ { "afterStep": 1, "criterion": "maxProbability", "threshold": 0.2 } ] }""";
            var planPath = Path.Combine(dir, "llama32.plan.json");
            File.WriteAllText(Path.Combine(dir, "llama32.model.json"), manifest);
            File.WriteAllText(planPath, plan);
            List<Microsoft.CodeAnalysis.AdditionalText> texts =
            [
                new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/llama32/llama32.model.json", manifest),
                new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/llama32/llama32.plan.json", plan),
            ];
            var result = InMemoryEngines.CompileAndLoad("namespace Llama32; [SpecializedInfer.SpecializedEngine(\"llama32/llama32.plan.json\")] public partial class Engine;",
                texts, assembly => InMemoryEngines.CompareWithReference(assembly, "Llama32.Engine", model, planPath));
            Assert.Contains(result.GeneratedTrees, t => t.ToString().Contains("RopeTable.For(weights, _capacity)"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_qwen2_manifest_is_reported_as_having_no_generated_engine_yet()
    {
        const string manifest = """
            { "architecture": "qwen2", "dim": 224, "hiddenDim": 608, "layers": 3, "heads": 7, "kvHeads": 1, "normEps": 1e-6,
              "ropeTheta": 1000000, "vocabSize": 600, "contextLength": 256, "tiedOutput": true }
            """;
        var generator = ManifestReader.Read(manifest, "qwen.model.json");
        var problem = Assert.Single(generator.Problems);
        Assert.Equal(ProblemIds.UnsupportedArchitecture, problem.Id);
        Assert.Contains("reference engine", problem.Message);
        // The reference engine reads the same manifest: half-split rotary pairs and projection biases, from the architecture.
        var reference = ManifestReader.Read(manifest, "qwen.model.json", allowEncoders: false);
        Assert.Empty(reference.Problems);
        Assert.Equal(RopeStyle.HalfSplit, reference.Manifest!.RopeStyle);
        Assert.True(reference.Manifest.AttentionBias);
    }
}
