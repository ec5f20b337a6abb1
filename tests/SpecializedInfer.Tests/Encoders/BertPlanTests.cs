using System.Numerics.Tensors;
using SpecializedInfer.Encoders;
using SpecializedInfer.Gguf;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Tests.Encoders;

/// <summary>
/// The bert manifest and static depth plans. A plan's oracle is llama.cpp on a GGUF that holds only the layers the
/// plan runs, in its order (written here from the converted file): the same computation, by another engine.
/// </summary>
[Collection(MiniLmCollection.Name)]
public sealed class BertPlanTests(MiniLm m)
{
    private string ManifestPath() => m.ManifestPath();

    private string Plan(string name, string body) => m.Plan(name, body);

    /// <summary>The converted GGUF with only <paramref name="layers"/>, renumbered in that order.</summary>
    private string Subset(string name, int[] layers)
    {
        var path = Path.Combine(m.Directory_, name + ".gguf");
        using var file = GgufFile.Open(m.GgufPath);
        var w = new GgufWriter();
        foreach (var (key, value) in file.Metadata)
            w.Add(key, key == BertConfig.Keys.BlockCount ? GgufValue.Of((uint)layers.Length) : value);
        foreach (var t in file.Tensors.Where(t => !t.Name.StartsWith("blk.", StringComparison.Ordinal)))
            w.AddTensor(t.Name, t.Dimensions, t.Type, file.GetBytes(t));
        for (var j = 0; j < layers.Length; j++)
            foreach (var t in file.Tensors.Where(t => t.Name.StartsWith($"blk.{layers[j]}.", StringComparison.Ordinal)))
                w.AddTensor($"blk.{j}." + t.Name[$"blk.{layers[j]}.".Length..], t.Dimensions, t.Type, file.GetBytes(t));
        w.Write(path);
        return path;
    }

    [Fact]
    public void Si_manifest_writes_a_bert_manifest_that_reads_back()
    {
        var text = File.ReadAllText(ManifestPath());
        var result = ManifestReader.Read(text, "minilm.model.json", allowEncoders: true);
        Assert.Empty(result.Problems);
        var manifest = result.Manifest!;
        Assert.Equal(("bert", 384, 1536, 6, 12, 30522, 512), (manifest.Architecture, manifest.Dim, manifest.HiddenDim, manifest.Layers, manifest.Heads, manifest.VocabSize, manifest.ContextLength));
        Assert.Equal(new EncoderFacts { TokenTypes = 2, Pooling = "mean", Normalize = true }, manifest.Encoder);
        Assert.Equal(1e-12, manifest.NormEps);
        Assert.Equal(text, ManifestWriter.ToJson(manifest));
        // The generator reads it too (it emits encoders); a language model's reader refuses it.
        Assert.Equal(manifest, ManifestReader.Read(text, "minilm.model.json").Manifest);
        Assert.Equal(ProblemIds.UnsupportedArchitecture, Assert.Single(ManifestReader.Read(text, "minilm.model.json", allowEncoders: false).Problems).Id);
    }

    [Theory]
    [InlineData("\"normEps\": 1E-12", "\"normEps\": 1E-12, \"ropeTheta\": 10000", "'ropeTheta' applies to llama manifests only")]
    [InlineData("\"pooling\": \"mean\"", "\"pooling\": \"max\"", "'pooling' is 'mean' or 'cls', found 'max'")]
    [InlineData("\"norm\": \"post\"", "\"norm\": \"pre\"", "A bert encoder's 'norm' is 'post', found 'pre'")]
    public void Bert_manifest_mistakes_are_reported(string find, string replace, string message)
    {
        var original = File.ReadAllText(ManifestPath());
        Assert.Contains(find, original);
        var text = original.Replace(find, replace);
        var result = ManifestReader.Read(text, "m.model.json", allowEncoders: true);
        Assert.Null(result.Manifest);
        Assert.Contains(result.Problems, p => p.Message == message);
    }

    [Fact]
    public void Encoder_facts_are_rejected_in_a_llama_manifest()
    {
        var result = ManifestReader.Read("""{ "architecture": "llama", "dim": 64, "hiddenDim": 172, "layers": 5, "heads": 8, "vocabSize": 512, "contextLength": 2048, "normEps": 1e-5, "pooling": "mean" }""", "x.model.json");
        Assert.Contains(result.Problems, p => p.Message == "'pooling' applies to bert manifests only");
    }

    [Theory]
    [InlineData("first3", "\"order\": [0, 1, 2]", new[] { 0, 1, 2 })]
    [InlineData("prune2", "\"prune\": [2]", new[] { 0, 1, 3, 4, 5 })]
    [InlineData("first1", "\"prune\": [1, 2, 3, 4, 5]", new[] { 0 })]
    public void Static_depth_plans_equal_llama_cpp_on_the_same_layers(string name, string body, int[] layers)
    {
        var schedule = BertManifest.LoadPlan(Plan(name, body), m.Weights.Config);
        Assert.Equal(layers, schedule.Steps.Select(s => s.WeightsOf));
        var encoder = new BertEncoder(m.Weights, schedule, activation: BertActivation.GeluTanhHalfTable);
        using var llamaCpp = new LlamaCppEmbedder(Subset(name, layers));
        var texts = Sentences.Varied(6, seed: 9);
        var ours = encoder.Embed(texts);
        var full = m.Encoder.Embed(texts);
        for (var i = 0; i < texts.Length; i++)
        {
            var theirs = llamaCpp.Embed(texts[i]);
            TensorPrimitives.Multiply(theirs, 1 / TensorPrimitives.Norm(theirs), theirs);
            var worst = Enumerable.Range(0, 384).Max(d => Math.Abs(theirs[d] - ours[i][d]));
            Assert.True(worst <= 1e-4f, $"'{texts[i]}': largest difference from llama.cpp {worst:E2}");
            Assert.True(TensorPrimitives.CosineSimilarity(full[i], ours[i]) < 0.9999f, "a shallower plan computes something else than the full model");
        }
    }

    [Theory]
    [InlineData("\"decodeDepth\": 3", "'decodeDepth' does not apply to encoders")]
    [InlineData("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.9 } ]", "'exits' with the criterion 'maxProbability' do not apply to encoders")]
    [InlineData("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"stateSaturation\", \"threshold\": 0.9 } ]", "'exits' with the criterion 'stateSaturation' do not apply to encoders")]
    public void Plans_for_generated_tokens_are_refused(string body, string message)
    {
        var e = Assert.Throws<PlanException>(() => BertManifest.LoadPlan(Plan("bad" + body.Length, body), m.Weights.Config));
        Assert.Contains(message, e.Message);
    }
}
