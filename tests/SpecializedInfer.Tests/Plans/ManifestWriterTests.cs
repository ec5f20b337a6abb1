using System.Text.Json;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Tests.Plans;

/// <summary><see cref="ManifestWriter"/>: what it writes, <see cref="ManifestReader"/> reads back as the same manifest.</summary>
public sealed class ManifestWriterTests
{
    private static ModelManifest Read(string json)
    {
        var result = ManifestReader.Read(json, "x.model.json");
        Assert.True(result.Manifest is not null, string.Join("\n", result.Problems));
        return result.Manifest!;
    }

    [Fact]
    public void The_manifest_of_stories260K_is_the_shipped_file()
    {
        using var weights = LlamaWeights.Load(ModelLocator.Find("stories260K.gguf"), layersToBind: []);
        var json = ManifestWriter.ToJson(ManifestCheck.FromFile(weights.File, weights.Config, "stories260K"));
        Assert.Equal(File.ReadAllText(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json")), json);
    }

    [Fact]
    public void Tensor_names_and_awkward_strings_round_trip()
    {
        var manifest = new ModelManifest
        {
            Name = "a \"quoted\" name\\with\tcontrol\ncharacters\u0001, non-ASCII é 中文 and 🦙",
            Dim = 120, HiddenDim = 300, Layers = 3, Heads = 6, KvHeads = 2, HeadDim = 20, RotaryDims = 20,
            RopeTheta = 500000, NormEps = 1.0000001e-6, VocabSize = 400, ContextLength = 256, TiedOutput = true,
            Tensors = TensorNames.Gguf with
            {
                TokenEmbedding = "model.embed_tokens.weight",
                Output = "lm_head \"final\"\u0007",
                Query = "model.layers.{layer}.self_attn.q_proj.weight",
                Down = "layers.{layer}.mlp.down_proj.wéight",
            },
        };
        var json = ManifestWriter.ToJson(manifest);
        Assert.Equal(manifest, Read(json));
        Assert.Equal(json, ManifestWriter.ToJson(Read(json)));

        // An independent reader agrees on the strings, and only the names that differ from GGUF's are written.
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal(manifest.Name, root.GetProperty("name").GetString());
        Assert.Equal(["tokenEmbedding", "output", "query", "down"], root.GetProperty("tensors").EnumerateObject().Select(p => p.Name));
        Assert.Equal(manifest.Tensors.Output, root.GetProperty("tensors").GetProperty("output").GetString());
        Assert.Contains("non-ASCII é 中文 and ", json); // readable, not \uXXXX (outside the BMP, as the encoder does: \uD83E\uDD99)
        Assert.DoesNotContain('\u0001', json);
        Assert.DoesNotContain('\t', json.Split('\n').Single(l => l.Contains("\"name\"")));
    }

    [Fact]
    public void Default_tensor_names_are_not_written()
    {
        var json = ManifestWriter.ToJson(new ModelManifest { Name = "m", Dim = 64, HiddenDim = 64, Layers = 1, Heads = 1, KvHeads = 1, HeadDim = 64, RotaryDims = 64, VocabSize = 32, ContextLength = 16 });
        Assert.DoesNotContain("tensors", json);
        Assert.Equal(TensorNames.Gguf, Read(json).Tensors);
    }
}
