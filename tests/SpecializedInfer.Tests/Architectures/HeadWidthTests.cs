using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Tests.Architectures;

/// <summary>
/// Head widths given by the file (<c>attention.key_length</c>, <c>value_length</c>) rather than dim / heads: loaded,
/// written into the manifest by si manifest and read back; value heads of another width than key heads are refused
/// naming the key. (The forward pass against llama.cpp: ArchitecturesVsLlamaCppTests' wide-heads shape.)
/// </summary>
public sealed class HeadWidthTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-head-width-").FullName;

    /// <summary>5 heads of 24 over dim 64: heads × width (120) is not dim, and 5 does not divide 64.</summary>
    private static readonly SyntheticModelSpec Spec = new()
    {
        Name = "heads5x24", Dim = 64, HiddenDim = 160, Layers = 2, Heads = 5, KvHeads = 1, HeadDim = 24, VocabSize = 400, ContextLength = 128, Seed = 41,
    };

    [Fact]
    public void A_head_width_from_key_length_loads_and_round_trips_through_the_manifest()
    {
        var path = Path.Combine(_dir, "m.gguf");
        SyntheticModel.Write(Spec, path);
        using var weights = LlamaWeights.Load(path);
        Assert.Equal((24, 120, 24), (weights.Config.HeadDim, weights.Config.QueryDim, weights.Config.KvDim));
        Assert.Equal((120, 64), (weights.Layer(0).Query.Rows, weights.Layer(0).Query.Cols));
        var json = ManifestWriter.ToJson(ManifestCheck.FromFile(weights.File, weights.Config, "heads5x24"));
        Assert.Contains("\"headDim\": 24", json);
        var read = ManifestReader.Read(json, "heads5x24.model.json");
        Assert.Empty(read.Problems);
        ManifestCheck.Verify(read.Manifest!, "heads5x24.model.json", weights); // the file is the model the manifest describes
    }

    [Theory]
    [InlineData("llama.attention.value_length", 16u, "equal to the key width 24")]
    [InlineData("llama.attention.key_length", 0u, "llama.attention.key_length")]
    public void Widths_the_engines_cannot_run_are_format_errors_naming_the_key(string key, uint value, string expected)
    {
        var source = Path.Combine(_dir, "m.gguf");
        SyntheticModel.Write(Spec, source);
        var path = Path.Combine(_dir, "bad.gguf");
        using (var file = GgufFile.Open(source))
        {
            var writer = new GgufWriter();
            foreach (var (k, v) in file.Metadata) writer.Add(k, k == key ? GgufValue.Of(value) : v);
            foreach (var t in file.Tensors) writer.AddTensor(t.Name, t.Dimensions, t.Type, file.GetBytes(t));
            writer.Write(path);
        }
        var e = Assert.Throws<GgufFormatException>(() => LlamaWeights.Load(path));
        Assert.Contains(key, e.Message);
        Assert.Contains(expected, e.Message);
        using var bad = GgufFile.Open(path);
        Assert.Equal(bad.Find(key)!.Offset, e.Offset);
    }

    [Fact]
    public void Without_key_length_the_heads_must_divide_dim()
    {
        var path = Path.Combine(_dir, "nokey.gguf");
        SyntheticModel.Write(Spec, Path.Combine(_dir, "m.gguf"));
        using (var file = GgufFile.Open(Path.Combine(_dir, "m.gguf")))
        {
            var writer = new GgufWriter();
            foreach (var (k, v) in file.Metadata.Where(m => !m.Key.EndsWith("_length", StringComparison.Ordinal) || m.Key == "llama.context_length" || m.Key == "llama.embedding_length" || m.Key == "llama.feed_forward_length"))
                writer.Add(k, v);
            foreach (var t in file.Tensors) writer.AddTensor(t.Name, t.Dimensions, t.Type, file.GetBytes(t));
            writer.Write(path);
        }
        var e = Assert.Throws<GgufFormatException>(() => LlamaWeights.Load(path));
        Assert.Contains("'llama.attention.head_count' to hold a head count dividing embedding_length 64", e.Message);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
