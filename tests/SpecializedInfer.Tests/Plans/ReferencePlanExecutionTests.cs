using System.Numerics.Tensors;
using SpecializedInfer.Engine;
using SpecializedInfer.Planning;
using SpecializedInfer.Tests.Support;

namespace SpecializedInfer.Tests.Plans;

/// <summary>
/// The reference engine running plans. Static plans are checked against rewritten model files (a pruned,
/// shared, reordered or repeated layer stack written out as a plain model), dynamic depth against truncated
/// schedules and a hand-computed state propagation.
/// </summary>
public sealed class ReferencePlanExecutionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-plans-").FullName;
    private static string Stories => ModelLocator.Find("stories260K.gguf");
    private static readonly int[] Prompt = [1, 403, 407, 261, 378, 13];
    private static readonly int[] Continuation = [32, 263, 293, 45, 400, 118, 99, 7, 260, 270, 300, 12, 51, 77, 140, 301];

    private string Plan(string json)
    {
        File.Copy(Path.Combine(RepositoryModels, "stories260K.model.json"), Path.Combine(_dir, "stories260K.model.json"), overwrite: true);
        var path = Path.Combine(_dir, $"p{Guid.NewGuid():N}.plan.json");
        File.WriteAllText(path, "{ \"manifest\": \"stories260K.model.json\"" + (json.Length > 0 ? ", " + json : "") + " }");
        return path;
    }

    internal static string RepositoryModels
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "SpecializedInfer.sln"))) return Path.Combine(dir.FullName, "models");
            throw new DirectoryNotFoundException("repository root not found");
        }
    }

    /// <summary>Logits after the prompt, then after each continuation token fed as a generated token.</summary>
    private static List<float[]> Run(ILanguageModel engine, out SessionStatistics stats)
    {
        var session = engine.CreateSession(64);
        var result = new List<float[]> { session.Forward(Prompt).ToArray() };
        foreach (var t in Continuation) result.Add(session.Forward(t).ToArray());
        stats = session.Statistics;
        return result;
    }

    private static void AssertSameLogits(List<float[]> expected, List<float[]> actual, int from = 0)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = from; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
    }

    private string Rewritten(int[] map)
    {
        var path = Path.Combine(_dir, $"m{string.Join("_", map)}.gguf");
        ModelSurgery.RewriteLayers(Stories, path, map);
        return path;
    }

    [Fact]
    public void The_full_plan_is_the_model()
    {
        using var plain = ReferenceEngine.Load(Stories);
        using var planned = ReferenceEngine.Load(Stories, Plan(""));
        Assert.True(planned.Schedule.IsFullModel);
        AssertSameLogits(Run(plain, out _), Run(planned, out var stats));
        Assert.Equal(Continuation.Length, stats.StepsHistogram[5]);
    }

    [Theory]
    [InlineData("\"prune\": [3]", new[] { 0, 1, 2, 4 })]
    [InlineData("\"prune\": [0, 4]", new[] { 1, 2, 3 })]
    [InlineData("\"share\": [ { \"layer\": 4, \"weightsOf\": 2 } ]", new[] { 0, 1, 2, 3, 2 })]
    [InlineData("\"order\": [0, 1, 1, 2, 3, 4]", new[] { 0, 1, 1, 2, 3, 4 })]
    [InlineData("\"order\": [4, 3, 2, 1, 0]", new[] { 4, 3, 2, 1, 0 })]
    [InlineData("\"prune\": [1], \"share\": [ { \"layer\": 3, \"weightsOf\": 0 } ], \"order\": [0, 2, 3, 3, 4]", new[] { 0, 2, 0, 0, 4 })]
    public void Static_plans_compute_what_the_rewritten_model_computes(string plan, int[] layerMap)
    {
        using var planned = ReferenceEngine.Load(Stories, Plan(plan));
        using var rewritten = ReferenceEngine.Load(Rewritten(layerMap));
        AssertSameLogits(Run(rewritten, out _), Run(planned, out _));
    }

    [Fact]
    public void Pruned_and_borrowed_layers_are_never_bound()
    {
        using var engine = ReferenceEngine.Load(Stories, Plan("\"prune\": [3], \"share\": [ { \"layer\": 4, \"weightsOf\": 2 } ]"));
        Assert.Null(engine.Weights.Layers[3]);
        Assert.Null(engine.Weights.Layers[4]);
        Assert.NotNull(engine.Weights.Layers[2]);
        Assert.Equal([0, 1, 2], engine.Schedule.WeightLayers);
    }

    [Fact]
    public void An_exit_that_never_fires_changes_nothing()
    {
        using var plain = ReferenceEngine.Load(Stories);
        using var planned = ReferenceEngine.Load(Stories, Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 1.5 } ]"));
        AssertSameLogits(Run(plain, out _), Run(planned, out var stats));
        Assert.Equal(0, stats.ExitsPerStep[1]);
        Assert.Equal(5.0, stats.MeanStepsPerGeneratedToken);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void With_threshold_0_every_generated_token_leaves_at_the_first_exit(int step)
    {
        // A generated token that exits after step e reads only steps 0..e, exactly like a model cut after e.
        using var planned = ReferenceEngine.Load(Stories, Plan($"\"exits\": [ {{ \"afterStep\": {step}, \"criterion\": \"maxProbability\", \"threshold\": 0 }}, {{ \"afterStep\": {step + 1}, \"criterion\": \"maxProbability\", \"threshold\": 0 }} ]"));
        using var cut = ReferenceEngine.Load(Stories, Plan($"\"order\": [{string.Join(", ", Enumerable.Range(0, step + 1))}]"));
        AssertSameLogits(Run(cut, out _), Run(planned, out var stats), from: 1);
        Assert.Equal(Continuation.Length, stats.ExitsPerStep[step]);
        Assert.Equal(0, stats.ExitsPerStep[step + 1]);
        Assert.Equal(step + 1.0, stats.MeanStepsPerGeneratedToken);
    }

    [Fact]
    public void Shallow_decoding_runs_the_first_steps_for_generated_tokens_only()
    {
        using var shallow = ReferenceEngine.Load(Stories, Plan("\"decodeDepth\": 2"));
        using var cut = ReferenceEngine.Load(Stories, Plan("\"order\": [0, 1]"));
        using var full = ReferenceEngine.Load(Stories);
        var shallowLogits = Run(shallow, out var stats);
        Assert.Equal(Run(full, out _)[0], shallowLogits[0]);        // the prompt runs the whole schedule
        AssertSameLogits(Run(cut, out _), shallowLogits, from: 1);  // generated tokens run two steps
        Assert.Equal(Continuation.Length, stats.StepsHistogram[2]);
    }

    [Fact]
    public void Skipped_steps_get_the_exit_state_projected_into_their_cache()
    {
        using var engine = ReferenceEngine.Load(Stories, Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0 } ]"));
        var session = (ReferenceSession)engine.CreateSession(32);
        var observer = new LastHidden();
        session.Observer = observer;
        session.Forward(Prompt);
        var pos = session.Position;
        session.Forward(Continuation[0]);
        Assert.Equal(1, observer.Step); // the token ran steps 0 and 1, then left

        var c = engine.Config;
        var rope = new RopeTable(32, c.RotaryDims, c.RopeTheta);
        for (var step = 2; step < 5; step++)
        {
            // By hand: RMSNorm with the step's attention norm, then the K and V projections, RoPE on K.
            var w = engine.Weights.Layer(step);
            var h = observer.Hidden!;
            var scale = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(h) / h.Length + c.NormEps);
            var x = h.Select((v, i) => v * scale * w.AttentionNorm.Span[i]).ToArray();
            var k = Enumerable.Range(0, c.KvDim).Select(r => TensorPrimitives.Dot(w.Key.Row(r), x)).ToArray();
            var v = Enumerable.Range(0, c.KvDim).Select(r => TensorPrimitives.Dot(w.Value.Row(r), x)).ToArray();
            rope.Apply(k, c.KvHeads, c.HeadDim, pos);
            AssertClose(k, session.CachedKey(step, pos));
            AssertClose(v, session.CachedValue(step, pos));
        }

        // A later prompt token runs all five steps and reads those entries.
        var afterExit = session.Forward([Continuation[1]]).ToArray();
        Assert.All(afterExit, l => Assert.True(float.IsFinite(l)));
    }

    [Fact]
    public void A_model_that_does_not_match_the_manifest_is_refused_naming_the_first_mismatch()
    {
        var other = Path.Combine(_dir, "other.gguf");
        SpecializedInfer.Synthesis.SyntheticModel.Write(SyntheticModels.Odd, other);
        var e = Assert.Throws<ManifestMismatchException>(() => ReferenceEngine.Load(other, Plan("")));
        Assert.Equal("dim", e.Property);
        Assert.Contains("stories260K.model.json", e.Message);
        Assert.Contains(other, e.Message);
    }

    [Fact]
    public void A_plan_with_errors_is_refused_with_every_problem_located()
    {
        var path = Plan("\"prune\": [3, 3, 9],\n  \"decodeDepth\": 0");
        var e = Assert.Throws<PlanException>(() => ReferenceEngine.Load(Stories, path));
        Assert.Contains(e.Problems, p => p.Id == ProblemIds.DuplicateIndex);
        Assert.Contains(e.Problems, p => p.Id == ProblemIds.LayerOutOfRange && p.Message.Contains('9'));
        Assert.Contains(e.Problems, p => p.Id == ProblemIds.DecodeDepthOutOfRange && p.Range.StartLine == 1);
    }

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++) Assert.InRange(actual[i] - expected[i], -1e-5f, 1e-5f);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private sealed class LastHidden : ILayerObserver
    {
        public float[]? Hidden;
        public int Step;
        public void OnLayerOutput(int position, int step, int layer, ReadOnlySpan<float> hidden) { Hidden = hidden.ToArray(); Step = step; }
    }
}
