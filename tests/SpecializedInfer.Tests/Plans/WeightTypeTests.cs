using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Tests.Plans;

/// <summary>
/// The weight type in manifests and plans: <c>si manifest</c> writes the type the file's layer matrices share,
/// readers take only ggml's names (SI0033), a plan for another type than its manifest's is SI0042, and a model file
/// of another type than the manifest's is refused at load.
/// </summary>
public sealed class WeightTypeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-weight-type-").FullName;

    private static readonly SyntheticModelSpec Spec = new() { Dim = 64, HiddenDim = 128, Layers = 2, Heads = 4, VocabSize = 400, ContextLength = 32, Seed = 3 };

    private string Model(GgmlType type)
    {
        var path = Path.Combine(_dir, $"{type}.gguf");
        if (!File.Exists(path)) SyntheticModel.Write(Spec with { MatrixType = type }, path);
        return path;
    }

    private static string? WeightTypeOf(string path)
    {
        using var weights = LlamaWeights.Load(path, layersToBind: []);
        return ManifestCheck.FromFile(weights.File, weights.Config, "m").WeightType;
    }

    [Fact]
    public void The_manifest_names_the_type_the_layer_matrices_share()
    {
        Assert.Equal("f32", WeightTypeOf(ModelLocator.Find("stories260K.gguf")));
        Assert.Equal("q8_0", WeightTypeOf(Model(GgmlType.Q8_0)));
        Assert.Equal("bf16", WeightTypeOf(Model(GgmlType.BF16)));
        // One layer matrix in another type: the file has no single weight type, and the manifest names none.
        var mixed = Path.Combine(_dir, "mixed.gguf");
        using (var file = GgufFile.Open(Model(GgmlType.F32)))
        {
            var writer = new GgufWriter();
            foreach (var (key, value) in file.Metadata) writer.Add(key, value);
            foreach (var t in file.Tensors)
                if (t.Name == "blk.1.ffn_up.weight") writer.AddTensor(t.Name, t.Dimensions, GgmlType.Q8_0, SpecializedInfer.Quantization.ReferenceQuantizer.Q8_0(file.ReadAsFloat32(t.Name)));
                else writer.AddTensor(t.Name, t.Dimensions, t.Type, file.GetBytes(t));
            writer.Write(mixed);
        }
        Assert.Null(WeightTypeOf(mixed));
    }

    [Fact]
    public void Weight_type_round_trips_through_the_manifest_writer_and_the_plan_writer()
    {
        var manifest = PlanReaderTests.Stories with { WeightType = "q4_0", HiddenDim = 192 }; // whole blocks of 32 (SI0043)
        var json = ManifestWriter.ToJson(manifest);
        Assert.Contains("\"weightType\": \"q4_0\"", json);
        Assert.Equal(manifest, ManifestReader.Read(json, "stories260K.model.json").Manifest);
        var plan = PlanReader.Read("{ \"manifest\": \"m.model.json\", \"weightType\": \"q4_0\", \"prune\": [3] }", "p.plan.json", manifest).Plan!;
        Assert.Equal("q4_0", plan.WeightType);
        Assert.Equal(plan, PlanReader.Read(PlanWriter.ToJson(plan), "p.plan.json", manifest).Plan);
    }

    [Fact]
    public void An_unknown_weight_type_is_SI0033()
    {
        var text = ManifestWriter.ToJson(PlanReaderTests.Stories with { WeightType = "q9_0" });
        var problem = Assert.Single(ManifestReader.Read(text, "m.model.json").Problems, p => p.Severity == ProblemSeverity.Error);
        Assert.Equal(ProblemIds.UnknownEnumValue, problem.Id);
        Assert.Contains("found 'q9_0'", problem.Message);
    }

    [Theory]
    [InlineData("q8_0", 32)]
    [InlineData("q4_k", 256)]
    public void A_width_the_weight_types_blocks_do_not_divide_is_SI0043(string type, int block)
    {
        // stories260K's feed-forward width 172 is no multiple of a block: no file of this type can have it.
        var text = ManifestWriter.ToJson(PlanReaderTests.Stories with { WeightType = type });
        var problems = ManifestReader.Read(text, "m.model.json").Problems.Where(p => p.Severity == ProblemSeverity.Error).ToList();
        Assert.All(problems, p => Assert.Equal(ProblemIds.WeightBlocksDoNotDivide, p.Id));
        Assert.Contains(problems, p => p.Message == $"'weightType' {type} stores matrix rows in blocks of {block} values, so 'hiddenDim' (172) must be a multiple of {block}");
        Assert.Equal(type == "q4_k" ? 2 : 1, problems.Count); // q4_k: dim 64 too
        Assert.DoesNotContain(ManifestReader.Read(ManifestWriter.ToJson(PlanReaderTests.Stories with { WeightType = "f16" }), "m.model.json").Problems,
            p => p.Severity == ProblemSeverity.Error);
    }

    [Theory]
    [InlineData("q8_0", "q4_0", "describes q8_0 weights")]
    [InlineData(null, "q4_0", "names no weight type")]
    public void A_plan_for_another_weight_type_than_its_manifests_is_SI0042(string? manifestType, string planType, string expected)
    {
        var manifest = PlanReaderTests.Stories with { WeightType = manifestType };
        var text = "{ \"manifest\": \"m.model.json\",\n  \"weightType\": \"" + planType + "\" }";
        var result = PlanReader.Read(text, "p.plan.json", manifest);
        Assert.Null(result.Plan);
        var problem = Assert.Single(result.Problems);
        Assert.Equal(ProblemIds.WeightTypeMismatch, problem.Id);
        Assert.Contains($"The plan is for {planType} weights", problem.Message);
        Assert.Contains(expected, problem.Message);
        Assert.Equal((1, 16), (problem.Range.StartLine, problem.Range.StartColumn)); // the value, line 2 column 17
        Assert.NotNull(PlanReader.Read(text, "p.plan.json", manifest with { WeightType = planType }).Plan);
    }

    [Fact]
    public void A_model_file_of_another_type_than_the_manifests_is_refused_at_load()
    {
        var manifestPath = Path.Combine(_dir, "m.model.json");
        File.WriteAllText(manifestPath, ManifestWriter.ToJson(ManifestCheck.FromConfig(LlamaConfigOf(Model(GgmlType.F32)), "m") with { WeightType = "q8_0" }));
        var planPath = Path.Combine(_dir, "p.plan.json");
        File.WriteAllText(planPath, "{ \"manifest\": \"m.model.json\" }");
        using (ReferenceEngine.Load(Model(GgmlType.Q8_0), planPath)) { }
        var e = Assert.Throws<ManifestMismatchException>(() => ReferenceEngine.Load(Model(GgmlType.F32), planPath));
        Assert.Equal("weightType", e.Property);
        Assert.Contains("'weightType' = q8_0", e.Message);
        Assert.Contains("tensor 'blk.0.attn_q.weight' in f32", e.Message);
        using var file = GgufFile.Open(Model(GgmlType.F32));
        Assert.Equal(file.GetTensor("blk.0.attn_q.weight").HeaderOffset, e.Offset);
    }

    [Fact]
    public void Planning_names_every_type_the_runtime_reads()
    {
        var runtime = Enum.GetValues<GgmlType>().Where(GgmlTypeInfo.CanDequantize).Select(GgmlTypeInfo.Name).Order();
        Assert.Equal(runtime, WeightTypes.Names.Order());
    }

    private static LlamaConfig LlamaConfigOf(string path)
    {
        using var weights = LlamaWeights.Load(path, layersToBind: []);
        return weights.Config;
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
