using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Tests.Architectures;

/// <summary>
/// Manifests of qwen2 and Llama 3 files: written from the file, read back equal, checked against files at load
/// (a file without the rope factors a manifest promises is refused naming the property), and a plan of a qwen2
/// manifest runs in the reference engine as the full model does.
/// </summary>
public sealed class ArchitectureManifestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-arch-manifest-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private string Write(SyntheticModelSpec spec)
    {
        var path = Path.Combine(_dir, spec.Name + ".gguf");
        SyntheticModel.Write(spec, path);
        return path;
    }

    private static ModelManifest ManifestOf(string path, string name)
    {
        using var file = GgufFile.Open(path);
        return ManifestCheck.FromFile(file, LlamaConfig.FromGguf(file), name);
    }

    [Fact]
    public void Qwen2_and_llama3_manifests_round_trip_through_their_json()
    {
        foreach (var spec in new[] { ArchitecturesVsLlamaCppTests.Qwen25, ArchitecturesVsLlamaCppTests.Llama32 })
        {
            var manifest = ManifestOf(Write(spec), spec.Name);
            var json = ManifestWriter.ToJson(manifest);
            var read = ManifestReader.Read(json, spec.Name + ".model.json", allowEncoders: false);
            Assert.Empty(read.Problems);
            Assert.Equal(manifest, read.Manifest);
            Assert.Equal(spec.Architecture, read.Manifest!.Architecture);
            Assert.Equal(spec.Llama3RopeScaling, read.Manifest.RopeFrequencyFactors);
            Assert.Equal(spec.Llama3RopeScaling, json.Contains("\"ropeFrequencyFactors\": true"));
        }
    }

    [Fact]
    public void A_file_without_the_rope_factors_the_manifest_promises_is_refused_naming_the_property()
    {
        var withFactors = ManifestOf(Write(ArchitecturesVsLlamaCppTests.Llama32), "llama32");
        var plain = Write(ArchitecturesVsLlamaCppTests.Llama32 with { Name = "plain", Llama3RopeScaling = false });
        var e = Assert.Throws<ManifestMismatchException>(() => LlamaWeights.Load(plain, withFactors, "llama32.model.json", layersToBind: null));
        Assert.Equal("ropeFrequencyFactors", e.Property);
        Assert.Contains("'ropeFrequencyFactors' = true as in the manifest llama32.model.json, found false", e.Message);
    }

    [Fact]
    public void A_qwen2_file_is_refused_by_a_llama_manifest_naming_the_architecture()
    {
        var llama = ManifestOf(Write(ArchitecturesVsLlamaCppTests.Qwen25 with { Name = "as-llama", Architecture = DecoderArchitecture.Llama }), "as-llama");
        var qwen = Write(ArchitecturesVsLlamaCppTests.Qwen25);
        var e = Assert.Throws<ManifestMismatchException>(() => LlamaWeights.Load(qwen, llama, "as-llama.model.json", layersToBind: null));
        Assert.Equal("architecture", e.Property);
    }

    [Fact]
    public void A_pruned_plan_of_a_qwen2_manifest_runs_in_the_reference_engine_as_the_pruned_full_model()
    {
        var model = Write(ArchitecturesVsLlamaCppTests.Qwen25);
        File.WriteAllText(Path.Combine(_dir, "qwen.model.json"), ManifestWriter.ToJson(ManifestOf(model, "qwen")));
        var planPath = Path.Combine(_dir, "qwen.plan.json");
        File.WriteAllText(planPath, """{ "manifest": "qwen.model.json", "prune": [1] }""");
        using var planned = ReferenceEngine.Load(model, planPath);
        using var direct = new ReferenceEngine(LlamaWeights.Load(model), ExecutionSchedule.Resolve(new LayerPlan { Prune = [1] }, 3), ownsWeights: true);
        using var a = planned.CreateSession(16);
        using var b = direct.CreateSession(16);
        int[] tokens = [1, 40, 41, 42, 43];
        Assert.Equal(b.Forward(tokens).ToArray(), a.Forward(tokens).ToArray());
        Assert.Equal(DecoderArchitecture.Qwen2, planned.Config.Architecture);
    }
}
