using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Gguf;
using SpecializedInfer.Planning;
using SpecializedInfer.Tests.Support;

namespace SpecializedInfer.Tests.Plans;

/// <summary>
/// Sub-layer pruning and LaCo merges in the reference engine, against rewritten model files: dropping a layer's
/// attention (feed-forward) must compute exactly what the model computes with that layer's <c>attn_output</c>
/// (<c>ffn_down</c>) set to zero, for prompt and generated tokens and under every KV strategy; a merge exactly what a
/// model whose layer holds the merged tensors (computed here, element by element) computes.
/// </summary>
public sealed class SubLayerPruningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-sublayer-").FullName;
    private static string Stories => ModelLocator.Find("stories260K.gguf");
    private static readonly int[] Identity = [0, 1, 2, 3, 4];
    private static readonly int[] Prompt = [1, 403, 407, 261, 378, 13];
    private static readonly int[] Continuation = [32, 263, 293, 45, 400, 118, 99, 7, 260, 270, 300, 12, 51, 77, 140, 301];

    private string Plan(string json)
    {
        File.Copy(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json"), Path.Combine(_dir, "stories260K.model.json"), overwrite: true);
        var path = Path.Combine(_dir, $"p{Guid.NewGuid():N}.plan.json");
        File.WriteAllText(path, "{ \"manifest\": \"stories260K.model.json\"" + (json.Length > 0 ? ", " + json : "") + " }");
        return path;
    }

    private string Rewritten(int[] map, string[] zeroed)
    {
        var path = Path.Combine(_dir, $"m{Guid.NewGuid():N}.gguf");
        ModelSurgery.RewriteLayers(Stories, path, map, zeroed);
        return path;
    }

    /// <summary>Logits after the prompt, then after each continuation token fed as a generated token.</summary>
    private static List<float[]> Run(ILanguageModel engine)
    {
        using var session = engine.CreateSession(64);
        var result = new List<float[]> { session.Forward(Prompt).ToArray() };
        foreach (var t in Continuation) result.Add(session.Forward(t).ToArray());
        return result;
    }

    private static void AssertSameLogits(List<float[]> expected, List<float[]> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
    }

    [Theory]
    [InlineData("\"skipAttention\": [2]", new[] { 0, 1, 2, 3, 4 }, new[] { "blk.2.attn_output.weight" })]
    [InlineData("\"skipFeedForward\": [3]", new[] { 0, 1, 2, 3, 4 }, new[] { "blk.3.ffn_down.weight" })]
    [InlineData("\"skipAttention\": [0, 4], \"skipFeedForward\": [1]", new[] { 0, 1, 2, 3, 4 }, new[] { "blk.0.attn_output.weight", "blk.4.attn_output.weight", "blk.1.ffn_down.weight" })]
    [InlineData("\"share\": [ { \"layer\": 4, \"weightsOf\": 2 } ], \"skipAttention\": [4]", new[] { 0, 1, 2, 3, 2 }, new[] { "blk.4.attn_output.weight" })]
    [InlineData("\"order\": [0, 1, 1, 2, 3, 4], \"skipFeedForward\": [1]", new[] { 0, 1, 1, 2, 3, 4 }, new[] { "blk.1.ffn_down.weight", "blk.2.ffn_down.weight" })]
    [InlineData("\"prune\": [3], \"skipAttention\": [4]", new[] { 0, 1, 2, 4 }, new[] { "blk.3.attn_output.weight" })]
    public void Dropping_a_half_equals_zeroing_its_output_projection(string plan, int[] map, string[] zeroed)
    {
        using var planned = ReferenceEngine.Load(Stories, Plan(plan));
        using var rewritten = ReferenceEngine.Load(Rewritten(map, zeroed));
        AssertSameLogits(Run(rewritten), Run(planned));
    }

    /// <summary>
    /// Dynamic depth on top: the same plan without the drop, on the model with the zeroed projection. Propagation
    /// (exits, shallow decoding, dynamic skips), recomputation and lossless decoding all meet the step without attention.
    /// </summary>
    [Theory]
    [InlineData("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.3 } ]", 3)]
    [InlineData("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.3 } ], \"kvFill\": \"recompute\"", 3)]
    [InlineData("\"exits\": [ { \"afterStep\": 0, \"criterion\": \"maxProbability\", \"threshold\": 0.2 } ], \"kvFill\": \"recompute\"", 1)]
    [InlineData("\"decodeDepth\": 3", 4)]
    [InlineData("\"decodeDepth\": 3", 2)]
    [InlineData("\"skip\": [ { \"layer\": 2, \"test\": \"cosine\", \"threshold\": 0.5 } ]", 2)]
    [InlineData("\"kvFill\": \"lossless\", \"speculation\": { \"draftSteps\": 2, \"draftTokens\": 3 }", 3)]
    public void Every_kv_strategy_runs_a_step_without_attention_as_the_zeroed_model(string dynamic, int layer)
    {
        using var planned = ReferenceEngine.Load(Stories, Plan(dynamic + $", \"skipAttention\": [{layer}]"));
        using var zeroed = ReferenceEngine.Load(Rewritten(Identity, [$"blk.{layer}.attn_output.weight"]), Plan(dynamic));
        AssertSameLogits(Run(zeroed), Run(planned));
        using var session = (ReferenceSession)planned.CreateSession(32);
        for (var s = 0; s < 5; s++) Assert.Equal(s != layer, session.HasKvSlot(s));
    }

    [Fact]
    public void Lossless_decoding_without_an_attention_is_greedy_decoding_of_the_zeroed_model()
    {
        const string lossless = "\"kvFill\": \"lossless\", \"speculation\": { \"draftSteps\": 2, \"draftTokens\": 4 }";
        using var planned = ReferenceEngine.Load(Stories, Plan(lossless + ", \"skipAttention\": [1]"));
        using var zeroed = ReferenceEngine.Load(Rewritten(Identity, ["blk.1.attn_output.weight"]));
        using var speculative = (ISpeculativeSession)planned.CreateSession(128);
        var drafted = new SelfSpeculativeDecoder(speculative, planned.Config.VocabSize, eosId: -1).Generate(Prompt, 64, stopAtEos: false).ToList();
        using var plain = zeroed.CreateSession(128);
        var expected = new List<int>();
        var logits = plain.Forward(Prompt).ToArray();
        for (var i = 0; i < 64; i++)
        {
            var next = Array.IndexOf(logits, logits.Max());
            expected.Add(next);
            logits = plain.Forward(next).ToArray();
        }
        Assert.Equal(expected, drafted);
        Assert.True(speculative.Statistics.AcceptedDrafts > 0);
    }

    [Fact]
    public void A_merged_layer_runs_the_merged_tensors()
    {
        // θ2 + (θ3 − θ2) + (θ4 − θ2), element by element, in float: what the model file would hold after LaCo.
        using var source = GgufFile.Open(Stories);
        var merged = new Dictionary<string, float[]>();
        foreach (var t in source.Tensors.Where(t => t.Name.StartsWith("blk.2.", StringComparison.Ordinal)))
        {
            var part = t.Name["blk.2.".Length..];
            var a = source.GetFloat32(t.Name);
            var b = source.GetFloat32("blk.3." + part);
            var c = source.GetFloat32("blk.4." + part);
            var values = new float[a.Length];
            for (var i = 0; i < a.Length; i++)
            {
                var sum = a[i];
                sum += b[i] - a[i];
                sum += c[i] - a[i];
                values[i] = sum;
            }
            merged["blk.2." + part] = values;
        }
        var path = Path.Combine(_dir, "merged.gguf");
        ModelSurgery.RewriteLayers(Stories, path, [0, 1, 2], merged);
        using var planned = ReferenceEngine.Load(Stories, Plan("\"merge\": [ { \"layers\": [2, 3, 4] } ]"));
        using var rewritten = ReferenceEngine.Load(path);
        AssertSameLogits(Run(rewritten), Run(planned));
        Assert.Equal("3 steps [0 1 2], merged 2-4 into 2", planned.Schedule.Describe());
    }

    [Fact]
    public void A_share_of_a_merged_layer_reads_the_merged_weights_and_engines_sharing_a_file_merge_apart()
    {
        using var weights = Models.LlamaWeights.Load(Stories);
        var merging = ExecutionSchedule.Resolve(new LayerPlan { Merge = new[] { new LayerMerge(0, 2) }.ToEquatableArray(), Share = new[] { new LayerShare(3, 0) }.ToEquatableArray() }, 5);
        using var merged = new ReferenceEngine(weights, merging);
        using var plain = new ReferenceEngine(weights, ExecutionSchedule.Resolve(new LayerPlan { Prune = new[] { 1 }.ToEquatableArray(), Share = new[] { new LayerShare(3, 0) }.ToEquatableArray() }, 5));
        Assert.Equal("4 steps [0 2 3(w0) 4], merged 0-1 into 0", merged.Schedule.Describe());
        var mergedAttention = merged.LayerWeights(0).Query.Span.ToArray();
        var ownAttention = plain.LayerWeights(0).Query.Span.ToArray();
        Assert.NotEqual(ownAttention, mergedAttention);
        Assert.Equal(weights.Layer(0).Query.Span.ToArray(), ownAttention); // the shared file is untouched
        Assert.NotEqual(Run(plain)[^1], Run(merged)[^1]);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
