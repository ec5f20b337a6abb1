using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Engines;
using SpecializedInfer.Generator.Tests.Support;
using SpecializedInfer.Models;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// A manifest that renames tensors (Plans/s260r.model.json) over stories260K rewritten with those names: the
/// generated engine and the reference engine both bind by the manifest's names and compute what the original
/// stories260K computes under the same schedule.
/// </summary>
public sealed class RenamedTensorTests
{
    [Fact]
    public void Both_executors_run_renamed_tensors_as_the_original_model()
    {
        var planPath = EngineCatalog.PlanPath(typeof(S260rCombo));
        var renamed = TestModels.PathFor(planPath);
        using var generated = S260rCombo.Load(renamed);
        using var reference = ReferenceEngine.Load(renamed, planPath);
        Assert.Equal(Testing.RenamedTensors.HuggingFace, S260rCombo.Manifest.Tensors);
        Assert.Equal(Testing.RenamedTensors.HuggingFace, reference.Weights.TensorNames);

        // The oracle: the original file under GGUF's names, run by the same schedule.
        using var original = new ReferenceEngine(LlamaWeights.Load(TestModels.Stories260K, reference.Schedule.WeightLayers), reference.Schedule, ownsWeights: true);
        var (worstReference, _) = Comparison.Run(reference, original, 512);
        Assert.Equal(0f, worstReference); // the same bytes through the same code
        Comparison.Run(generated, original, 512);
    }

    [Fact]
    public void A_file_without_the_manifests_names_is_refused_naming_the_tensor()
    {
        var e = Assert.ThrowsAny<ModelFormatException>(() => S260rCombo.Load(TestModels.Stories260K));
        Assert.Contains("model.embed_tokens.weight", e.Message);
    }
}
