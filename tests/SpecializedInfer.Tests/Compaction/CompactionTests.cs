using System.Globalization;
using SpecializedInfer.Compaction;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Planning;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Compaction;

/// <summary>
/// <c>si compact</c>: the smaller file with its rewritten plan must give the same logits, bit for bit, as the original
/// model under the original plan, in the reference engine, for prompt and generated tokens.
/// </summary>
public sealed class CompactionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-compact-").FullName;
    private static string Stories => ModelLocator.Find("stories260K.gguf");
    private static readonly int[] Prompt = [1, 403, 407, 261, 378, 13];
    private static readonly int[] Continuation = [32, 263, 293, 45, 400, 118, 99, 7, 260, 270, 300, 12, 51, 77, 140, 301, 5, 88, 190, 230];

    public CompactionTests()
    {
        // Plans in one folder, probes in a folder below it, the compacted files in another: probe paths must be rewritten.
        Directory.CreateDirectory(Path.Combine(_dir, "plans", "probes"));
        Directory.CreateDirectory(Path.Combine(_dir, "out"));
        File.Copy(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json"), Path.Combine(_dir, "plans", "stories260K.model.json"));
        var random = new Random(5);
        var weights = string.Join(", ", Enumerable.Range(0, 64).Select(_ => (random.NextDouble() - 0.5).ToString("R", CultureInfo.InvariantCulture)));
        File.WriteAllText(Path.Combine(_dir, "plans", "probes", "p.probe.json"), $"{{ \"dim\": 64, \"bias\": 0.2, \"weights\": [{weights}] }}");
    }

    private string Plan(string json)
    {
        var path = Path.Combine(_dir, "plans", $"p{Guid.NewGuid():N}.plan.json");
        File.WriteAllText(path, "{ \"manifest\": \"stories260K.model.json\"" + (json.Length > 0 ? ", " + json : "") + " }");
        return path;
    }

    private static List<float[]> Run(ILanguageModel engine, out SessionStatistics statistics)
    {
        using var session = engine.CreateSession(64);
        var result = new List<float[]> { session.Forward(Prompt).ToArray() };
        foreach (var t in Continuation) result.Add(session.Forward(t).ToArray());
        statistics = session.Statistics;
        return result;
    }

    [Theory]
    [InlineData("\"prune\": [3]", 4, null)]
    [InlineData("\"prune\": [0, 4]", 3, null)]
    [InlineData("\"prune\": [3], \"share\": [ { \"layer\": 4, \"weightsOf\": 2 } ]", 3, "[0,1,2,2]")]
    [InlineData("\"order\": [4, 3, 2, 1, 0]", 5, "[4,3,2,1,0]")]
    [InlineData("\"order\": [0, 1, 1, 2, 4, 4]", 4, "[0,1,1,2,3,3]")]
    [InlineData("\"prune\": [1], \"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.4 } ], \"kvFill\": \"recompute\"", 4, null, true)]
    [InlineData("\"prune\": [3], \"decodeDepth\": 3, \"exits\": [ { \"afterStep\": 0, \"criterion\": \"learned\", \"threshold\": 0.5, \"probe\": \"probes/p.probe.json\" } ]", 4, null, true)]
    [InlineData("\"share\": [ { \"layer\": 4, \"weightsOf\": 2 } ], \"skip\": [ { \"layer\": 2, \"test\": \"cosine\", \"threshold\": 0.6 } ]", 5, "[0,1,2,4,3]", true)]
    [InlineData("\"share\": [ { \"layer\": 3, \"weightsOf\": 1 }, { \"layer\": 4, \"weightsOf\": 1 } ], \"skip\": [ { \"layer\": 4, \"test\": \"learned\", \"threshold\": 0.5, \"probe\": \"probes/p.probe.json\" } ]", 4, "[0,1,3,1,2]", true)]
    [InlineData("\"share\": [ { \"layer\": 4, \"weightsOf\": 2 } ], \"skipAttention\": [4], \"skipFeedForward\": [0]", 5, "[0,1,2,4,3]")]
    [InlineData("\"merge\": [ { \"layers\": [2, 3] } ], \"exits\": [ { \"afterStep\": 2, \"criterion\": \"margin\", \"threshold\": 0.3 } ]", 4, null, true)]
    [InlineData("\"prune\": [2], \"kvFill\": \"lossless\", \"speculation\": { \"draftSteps\": 2, \"draftTokens\": 4 }, \"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.5 } ]", 4, null)]
    public void The_compacted_model_and_rewritten_plan_compute_what_the_original_computes(string plan, int layers, string? order, bool dynamic = false)
    {
        var planPath = Plan(plan);
        var r = ModelCompactor.Compact(Stories, planPath, Path.Combine(_dir, "out", "small.gguf"));
        Assert.Equal(layers, r.LayerSources.Count);
        Assert.Equal(order, r.Plan.Order is { } o ? "[" + string.Join(",", o) + "]" : null);
        Assert.True(r.OutputBytes < r.SourceBytes || layers == 5);
        Assert.Equal(Path.Combine(_dir, "out", "small.plan.json"), r.PlanPath);
        using var original = ReferenceEngine.Load(Stories, planPath);
        using var compacted = ReferenceEngine.Load(r.ModelPath, r.PlanPath); // checks the file against the written manifest
        Assert.Equal(original.Schedule.Steps.Count, compacted.Schedule.Steps.Count);
        var expected = Run(original, out var before);
        var actual = Run(compacted, out var after);
        for (var i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
        // The dynamic parts still decide the same: the same depth per token, exits and skips.
        Assert.Equal(before.StepsHistogram, after.StepsHistogram);
        Assert.Equal(before.ExitsPerStep, after.ExitsPerStep);
        Assert.Equal(before.SkipsPerStep, after.SkipsPerStep);
        Assert.Equal(dynamic, before.MeanStepsPerGeneratedToken < before.ScheduleSteps);
        using var file = GgufFile.Open(r.ModelPath);
        Assert.Equal(layers, file.GetInteger("llama.block_count"));
    }

    [Fact]
    public void Weights_shared_by_steps_are_stored_once_and_the_full_plan_copies_the_model()
    {
        var r = ModelCompactor.Compact(Stories, Plan("\"share\": [ { \"layer\": 3, \"weightsOf\": 1 }, { \"layer\": 4, \"weightsOf\": 1 } ]"), Path.Combine(_dir, "out", "shared.gguf"));
        Assert.Equal([0, 1, 2], r.LayerSources);
        Assert.Equal([0, 1, 2, 1, 1], r.Plan.Order!);
        using (var source = GgufFile.Open(Stories))
        using (var small = GgufFile.Open(r.ModelPath))
        {
            var layerBytes = source.Tensors.Where(t => t.Name.StartsWith("blk.4.", StringComparison.Ordinal)).Sum(t => t.ByteSize);
            Assert.True(r.BytesSaved >= 2 * layerBytes, $"saved {r.BytesSaved}, two layers are {2 * layerBytes}");
            Assert.Equal(source.GetBytes(source.GetTensor("blk.2.ffn_up.weight")).ToArray(), small.GetBytes(small.GetTensor("blk.2.ffn_up.weight")).ToArray());
        }

        var full = ModelCompactor.Compact(Stories, Plan(""), Path.Combine(_dir, "out", "full.gguf"));
        Assert.Equal([0, 1, 2, 3, 4], full.LayerSources);
        Assert.Equal(File.ReadAllBytes(Stories).Length, File.ReadAllBytes(full.ModelPath).Length);
        Assert.StartsWith("{\n  \"manifest\": \"full.model.json\",\n  \"description\": ", File.ReadAllText(full.PlanPath));
        Assert.Null(full.Plan.Order);
    }

    [Fact]
    public void Exit_heads_are_copied_under_their_own_names_even_when_they_look_like_layer_tensors()
    {
        // A head named like a tensor of layer 1, which the plan renumbers to layer 0: it must keep its name.
        var model = Path.Combine(_dir, "heads.gguf");
        using (var source = GgufFile.Open(Stories))
        {
            var writer = new GgufWriter();
            foreach (var (key, value) in source.Metadata) writer.Add(key, value);
            foreach (var t in source.Tensors) writer.AddTensor(t.Name, t.Dimensions, t.Type, source.GetBytes(t));
            var norm = source.GetTensor("output_norm.weight");
            var output = source.GetTensor("output.weight");
            writer.AddTensor("blk.1.exit_norm.weight", norm.Dimensions, norm.Type, source.GetBytes(norm));
            writer.AddTensor("blk.1.exit_output.weight", output.Dimensions, output.Type, source.GetBytes(output));
            writer.Write(model);
        }
        var plan = Plan("\"prune\": [0], \"exits\": [ { \"afterStep\": 0, \"criterion\": \"maxProbability\", \"threshold\": 0.3, " +
                        "\"head\": { \"norm\": \"blk.1.exit_norm.weight\", \"output\": \"blk.1.exit_output.weight\" } } ]");
        var r = ModelCompactor.Compact(model, plan, Path.Combine(_dir, "out", "heads.small.gguf"));
        Assert.Equal([1, 2, 3, 4], r.LayerSources);
        using var original = ReferenceEngine.Load(model, plan);
        using var compacted = ReferenceEngine.Load(r.ModelPath, r.PlanPath);
        var expected = Run(original, out var before);
        var actual = Run(compacted, out _);
        for (var i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
        Assert.True(before.ExitsPerStep[0] > 0);
        using var file = GgufFile.Open(r.ModelPath);
        Assert.False(file.HasTensor("blk.0.exit_norm.weight"));
    }

    [Fact]
    public void A_qwen2_merge_merges_the_projection_biases_like_the_matrices()
    {
        // LaCo's rule holds for every parameter of the layer: θ1 + (θ2 − θ1), biases included.
        var spec = new Synthesis.SyntheticModelSpec
        {
            Name = "qwen-merge", Architecture = DecoderArchitecture.Qwen2, Dim = 64, HiddenDim = 160, Layers = 3, Heads = 4, KvHeads = 2,
            VocabSize = 600, ContextLength = 128, NormEps = 1e-6f, Seed = 21,
        };
        var model = Path.Combine(_dir, "qwen.gguf");
        Synthesis.SyntheticModel.Write(spec, model);
        using (var weights = Models.LlamaWeights.Load(model, layersToBind: []))
            File.WriteAllText(Path.Combine(_dir, "plans", "qwen.model.json"), ManifestWriter.ToJson(ManifestCheck.FromFile(weights.File, weights.Config, "qwen")));
        var plan = Path.Combine(_dir, "plans", "qwen.merge.plan.json");
        File.WriteAllText(plan, "{ \"manifest\": \"qwen.model.json\", \"merge\": [ { \"layers\": [1, 2] } ] }");
        var r = ModelCompactor.Compact(model, plan, Path.Combine(_dir, "out", "qwen.small.gguf"));
        using (var source = GgufFile.Open(model))
        using (var small = GgufFile.Open(r.ModelPath))
            foreach (var bias in new[] { "attn_q.bias", "attn_k.bias", "attn_v.bias" })
            {
                var (b1, b2) = (source.ReadAsFloat32($"blk.1.{bias}"), source.ReadAsFloat32($"blk.2.{bias}"));
                var expected = b1.Select((v, i) => v + (b2[i] - v)).ToArray();
                Assert.Equal(expected, small.ReadAsFloat32($"blk.1.{bias}"));
                Assert.NotEqual(b1, expected);
            }
        // The reference engine merging at load computes what the compacted file computes: the same merged biases.
        using var original = ReferenceEngine.Load(model, plan);
        using var compacted = ReferenceEngine.Load(r.ModelPath, r.PlanPath);
        var before = Run(original, out _);
        var after = Run(compacted, out _);
        for (var i = 0; i < before.Count; i++) Assert.Equal(before[i], after[i]);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
