using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Json;

namespace SpecializedInfer.Tests.Plans;

/// <summary>Plans and manifests as a user writes them: what they mean, and where each mistake is reported.</summary>
public sealed class PlanReaderTests
{
    private static readonly ModelManifest Stories = ManifestReader.Read(
        File.ReadAllText(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json")), "stories260K.model.json").Manifest!;

    [Fact]
    public void The_shipped_manifest_is_the_model_file_topology()
    {
        Assert.Equal((64, 172, 5, 8, 4, 8, 8, 512, 2048, false),
            (Stories.Dim, Stories.HiddenDim, Stories.Layers, Stories.Heads, Stories.KvHeads, Stories.HeadDim, Stories.RotaryDims, Stories.VocabSize, Stories.ContextLength, Stories.TiedOutput));
        Assert.Equal(1e-5, Stories.NormEps, 12);
        using var weights = Models.LlamaWeights.Load(ModelLocator.Find("stories260K.gguf"), layersToBind: []);
        Assert.Equal(Stories, ManifestCheck.FromConfig(weights.Config, "stories260K"));
        Assert.Equal(ManifestWriter.ToJson(Stories), ManifestWriter.ToJson(ManifestReader.Read(ManifestWriter.ToJson(Stories), "x.model.json").Manifest!));
    }

    [Fact]
    public void A_plan_resolves_into_its_schedule()
    {
        var result = PlanReader.Read("""
            {
              // comments are allowed
              "manifest": "stories260K.model.json",
              "prune": [3],
              "share": [ { "layer": 4, "weightsOf": 2 } ],
              "decodeDepth": 3,
              "exits": [ { "afterStep": 1, "criterion": "maxProbability", "threshold": 0.75 } ]
            }
            """, "fast.plan.json", Stories);
        Assert.Empty(result.Problems);
        var schedule = ExecutionSchedule.Resolve(result.Plan!, Stories);
        Assert.Equal([0, 1, 2, 4], schedule.Steps.Select(s => s.Layer));
        Assert.Equal([0, 1, 2, 2], schedule.Steps.Select(s => s.WeightsOf));
        Assert.Equal(3, schedule.DecodeDepth);
        Assert.Equal(new ExitPoint(1, ExitCriterion.MaxProbability, 0.75), schedule.Steps[1].ExitAfter);
        Assert.Equal([0, 1, 2], schedule.WeightLayers);
        Assert.Equal([3], schedule.PrunedLayers);
        Assert.False(schedule.IsFullModel);
        Assert.Equal("4 steps [0 1 2 4(w2)], decode depth 3, exit after step 1 (MaxProbability ≥ 0.75), pruned 3", schedule.Describe());
    }

    [Fact]
    public void An_order_may_repeat_and_reorder_layers()
    {
        var plan = PlanReader.Read("""{ "manifest": "m", "order": [4, 0, 0, 2] }""", "p", Stories).Plan!;
        var schedule = ExecutionSchedule.Resolve(plan, Stories);
        Assert.Equal([4, 0, 0, 2], schedule.Steps.Select(s => s.Layer));
        Assert.Equal(4, schedule.DecodeDepth);
        Assert.Equal([0, 2, 4], schedule.WeightLayers);
    }

    [Fact]
    public void The_empty_plan_is_the_full_model_and_resolution_is_value_equal()
    {
        var a = ExecutionSchedule.Resolve(PlanReader.Read("""{"manifest":"m"}""", "p", Stories).Plan!, Stories);
        var b = ExecutionSchedule.Resolve(PlanReader.Read("{\n  \"manifest\" : \"m\"\n}\n", "q", Stories).Plan!, Stories);
        Assert.True(a.IsFullModel);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(ExecutionSchedule.Full(5), a);
    }

    public static TheoryData<string, string, int, int> BadPlans => new()
    {
        // plan text (line 1 is "{ \"manifest\": \"m\","), expected id, 1-based line, 1-based column
        { "\"prune\": [1, 2,, 3] }", ProblemIds.JsonSyntax, 2, 16 },
        { "\"prnue\": [1] }", ProblemIds.UnknownProperty, 2, 1 },
        { "\"prune\": \"3\" }", ProblemIds.WrongType, 2, 10 },
        { "\"prune\": [7] }", ProblemIds.LayerOutOfRange, 2, 11 },
        { "\"prune\": [1, 1] }", ProblemIds.DuplicateIndex, 2, 14 },
        { "\"prune\": [-1] }", ProblemIds.NegativeNumber, 2, 11 },
        { "\"prune\": [1.5] }", ProblemIds.WrongType, 2, 11 },
        { "\"prune\": [0, 1, 2, 3, 4] }", ProblemIds.EverythingPruned, 2, 10 },
        { "\"prune\": [2],\n\"order\": [0, 2] }", ProblemIds.PrunedLayerUsed, 3, 14 },
        { "\"prune\": [2],\n\"share\": [ { \"layer\": 3, \"weightsOf\": 2 } ] }", ProblemIds.PrunedLayerUsed, 3, 39 },
        { "\"share\": [ { \"layer\": 3, \"weightsOf\": 2 }, { \"layer\": 2, \"weightsOf\": 1 } ] }", ProblemIds.ShareChain, 2, 12 },
        { "\"share\": [ { \"layer\": 3 } ] }", ProblemIds.MissingProperty, 2, 12 },
        { "\"share\": [ { \"layer\": 3, \"weightOf\": 2 } ] }", ProblemIds.UnknownProperty, 2, 26 },
        { "\"order\": [] }", ProblemIds.EmptyOrder, 2, 10 },
        { "\"decodeDepth\": 0 }", ProblemIds.DecodeDepthOutOfRange, 2, 16 },
        { "\"decodeDepth\": 6 }", ProblemIds.DecodeDepthOutOfRange, 2, 16 },
        { "\"decodeDepth\": 3,\n\"exits\": [ { \"afterStep\": 2, \"criterion\": \"maxProbability\", \"threshold\": 0.5 } ] }", ProblemIds.ExitAfterLastStep, 3, 27 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.5 }, { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.9 } ] }", ProblemIds.DuplicateExit, 2, 96 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": -0.5 } ] }", ProblemIds.ThresholdOutOfRange, 2, 74 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"entropy\", \"threshold\": 0.5 } ] }", ProblemIds.UnknownEnumValue, 2, 43 },
        { "\"kvFill\": \"recompute\" }", ProblemIds.UnknownEnumValue, 2, 11 },
    };

    [Theory]
    [MemberData(nameof(BadPlans))]
    public void Mistakes_are_reported_at_their_line_and_column(string rest, string id, int line, int column)
    {
        var text = "{ \"manifest\": \"m\",\n" + rest;
        var result = PlanReader.Read(text, "bad.plan.json", Stories);
        var problem = Assert.Single(result.Problems, p => p.Id == id);
        Assert.Equal((line, column), (problem.Range.StartLine + 1, problem.Range.StartColumn + 1));
        Assert.Equal("bad.plan.json", problem.FilePath);
        if (problem.Severity == ProblemSeverity.Error) Assert.Null(result.Plan);
    }

    [Fact]
    public void An_unknown_property_suggests_the_nearest_name()
    {
        var problem = Assert.Single(PlanReader.Read("{ \"manifest\": \"m\", \"decodDepth\": 2 }", "p", Stories).Problems);
        Assert.Contains("did you mean 'decodeDepth'?", problem.Message);
    }

    [Fact]
    public void A_threshold_above_one_is_a_warning_not_an_error()
    {
        var result = PlanReader.Read("""{ "manifest": "m", "exits": [ { "afterStep": 0, "criterion": "maxProbability", "threshold": 1.5 } ] }""", "p", Stories);
        Assert.Equal(ProblemSeverity.Warning, Assert.Single(result.Problems).Severity);
        Assert.NotNull(result.Plan);
    }

    public static TheoryData<string, string> BadManifests => new()
    {
        { "\"heads\": 7", ProblemIds.HeadsDoNotDivideDim },
        { "\"heads\": 8, \"headDim\": 16", ProblemIds.HeadDimMismatch },
        { "\"heads\": 8, \"kvHeads\": 3", ProblemIds.KvHeadsDoNotDivideHeads },
        { "\"heads\": 8, \"rotaryDims\": 10", ProblemIds.RotaryDimsTooLarge },
        { "\"heads\": 8, \"vocabSize\": 0", ProblemIds.NonPositiveSize },
        { "\"heads\": 8, \"architecture\": \"bert\"", ProblemIds.UnsupportedArchitecture },
    };

    [Theory]
    [MemberData(nameof(BadManifests))]
    public void Inconsistent_manifests_are_reported(string overrides, string id)
    {
        var props = new Dictionary<string, string>
        {
            ["architecture"] = "\"llama\"", ["dim"] = "64", ["hiddenDim"] = "172", ["layers"] = "5", ["vocabSize"] = "512",
            ["contextLength"] = "2048", ["normEps"] = "1e-5",
        };
        foreach (var kv in overrides.Split(", "))
        {
            var parts = kv.Split(": ");
            props[parts[0].Trim('"')] = parts[1];
        }
        var text = "{ " + string.Join(", ", props.Select(p => $"\"{p.Key}\": {p.Value}")) + " }";
        var result = ManifestReader.Read(text, "bad.model.json");
        Assert.Contains(result.Problems, p => p.Id == id);
        Assert.Null(result.Manifest);
    }

    [Fact]
    public void Dims_that_are_not_multiples_of_16_are_an_info_not_an_error()
    {
        var result = ManifestReader.Read("""{ "architecture": "llama", "dim": 120, "hiddenDim": 300, "layers": 3, "heads": 6, "kvHeads": 2, "vocabSize": 400, "contextLength": 256, "normEps": 1e-5 }""", "odd.model.json");
        Assert.NotNull(result.Manifest);
        Assert.Equal(2, result.Problems.Count(p => p.Id == ProblemIds.NotMultipleOf16 && p.Severity == ProblemSeverity.Info));
    }

    [Theory]
    [InlineData("", 1, 1)]
    [InlineData("{", 1, 2)]
    [InlineData("{ \"a\": tru }", 1, 8)]
    [InlineData("{ \"a\": \"x\n\" }", 1, 10)]
    [InlineData("[1, 2]\n  x", 2, 3)]
    [InlineData("{ \"a\": 1e999 }", 1, 8)]
    [InlineData("/* never closed", 1, 1)]
    public void Json_syntax_errors_have_positions(string text, int line, int column)
    {
        Assert.Null(JsonParser.Parse(text, out var error));
        Assert.Equal((line, column), (error!.Range.StartLine + 1, error.Range.StartColumn + 1));
    }

    [Fact]
    public void Deep_nesting_is_an_error_not_a_stack_overflow()
    {
        Assert.Null(JsonParser.Parse(new string('[', 100_000), out var error));
        Assert.Contains("nesting", error!.Message);
    }
}
