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
        Assert.Equal("4 steps [0 1 2 4(w2)], decode depth 3, exit after step 1 (max p ≥ 0.75), pruned 3", schedule.Describe());
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
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"confidence\", \"threshold\": 0.5 } ] }", ProblemIds.UnknownEnumValue, 2, 43 },
        { "\"kvFill\": \"cache\" }", ProblemIds.UnknownEnumValue, 2, 11 },
        // dynamic depth
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"margin\", \"threshold\": 2 } ] }", ProblemIds.ThresholdOutOfRange, 2, 66 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"stateSaturation\", \"threshold\": -1.5 } ] }", ProblemIds.ThresholdOutOfRange, 2, 75 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"patience\", \"threshold\": 2 } ] }", ProblemIds.UnknownProperty, 2, 55 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"patience\" } ] }", ProblemIds.MissingProperty, 2, 12 },
        { "\"exits\": [ { \"afterStep\": 0, \"criterion\": \"maxProbability\", \"threshold\": 0.5 },\n { \"afterStep\": 1, \"criterion\": \"patience\", \"patience\": 3 } ] }", ProblemIds.PatienceTooLong, 3, 57 },
        { "\"exits\": [ { \"afterStep\": 0, \"criterion\": \"stateSaturation\", \"threshold\": 0.9 },\n { \"afterStep\": 1, \"criterion\": \"patience\", \"patience\": 2 } ] }", ProblemIds.PatienceTooLong, 3, 57 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"ensemble\", \"votes\": 3, \"members\": [ { \"criterion\": \"entropy\", \"threshold\": 1 }, { \"criterion\": \"margin\", \"threshold\": 0.5 } ] } ] }", ProblemIds.EnsembleVotes, 2, 64 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"ensemble\", \"votes\": 1, \"members\": [ { \"criterion\": \"ensemble\", \"votes\": 1, \"members\": [] } ] } ] }", ProblemIds.EnsembleVotes, 2, 95 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"learned\", \"probe\": \"missing.probe.json\", \"threshold\": 0.5 } ] }", ProblemIds.ProbeNotFound, 2, 63 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"learned\", \"probe\": \"bad.probe.json\", \"threshold\": 0.5 } ] }", ProblemIds.InvalidProbe, 1, 10 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"learned\", \"threshold\": 0.5 } ] }", ProblemIds.MissingProperty, 2, 12 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"margin\", \"threshold\": 0.5, \"head\": { \"norm\": \"n\" } } ] }", ProblemIds.MissingProperty, 2, 79 },
        { "\"skip\": [ { \"layer\": 0, \"test\": \"cosine\", \"threshold\": 0.9 } ] }", ProblemIds.InvalidSkipRule, 2, 22 },
        { "\"decodeDepth\": 2,\n\"skip\": [ { \"layer\": 3, \"test\": \"cosine\", \"threshold\": 0.9 } ] }", ProblemIds.InvalidSkipRule, 3, 22 },
        { "\"prune\": [3],\n\"skip\": [ { \"layer\": 3, \"test\": \"cosine\", \"threshold\": 0.9 } ] }", ProblemIds.PrunedLayerUsed, 3, 22 },
        { "\"skip\": [ { \"layer\": 2, \"test\": \"cosine\", \"threshold\": 0.9 }, { \"layer\": 2, \"test\": \"cosine\", \"threshold\": 0.8 } ] }", ProblemIds.DuplicateIndex, 2, 74 },
        { "\"skip\": [ { \"layer\": 2, \"test\": \"cosine\", \"threshold\": 0.9, \"probe\": \"p.probe.json\" } ] }", ProblemIds.UnknownProperty, 2, 61 },
        { "\"kvFill\": \"lossless\" }", ProblemIds.SpeculationMismatch, 2, 11 },
        { "\"speculation\": { \"draftSteps\": 2, \"draftTokens\": 4 } }", ProblemIds.SpeculationMismatch, 2, 1 },
        { "\"kvFill\": \"lossless\", \"speculation\": { \"draftSteps\": 5, \"draftTokens\": 4 } }", ProblemIds.SpeculationMismatch, 2, 54 },
        { "\"kvFill\": \"lossless\", \"speculation\": { \"draftSteps\": 2, \"draftTokens\": 16 } }", ProblemIds.SpeculationMismatch, 2, 72 },
        { "\"kvFill\": \"lossless\", \"speculation\": { \"draftSteps\": 2, \"draftTokens\": 4 },\n\"exits\": [ { \"afterStep\": 0, \"criterion\": \"margin\", \"threshold\": 0.5 } ] }", ProblemIds.SpeculationMismatch, 3, 27 },
        { "\"kvFill\": \"lossless\", \"speculation\": { \"draftSteps\": 2, \"draftTokens\": 4 },\n\"decodeDepth\": 3 }", ProblemIds.SpeculationMismatch, 3, 1 },
        { "\"kvFill\": \"lossless\", \"speculation\": { \"draftSteps\": 2, \"draftTokens\": 4 },\n\"exits\": [ { \"afterStep\": 1, \"criterion\": \"stateSaturation\", \"threshold\": 0.5 } ] }", ProblemIds.SpeculationMismatch, 3, 27 },
    };

    [Theory]
    [MemberData(nameof(BadPlans))]
    public void Mistakes_are_reported_at_their_line_and_column(string rest, string id, int line, int column)
    {
        var text = "{ \"manifest\": \"m\",\n" + rest;
        var result = PlanReader.Read(text, "bad.plan.json", Stories, Sidecars);
        var problem = Assert.Single(result.Problems, p => p.Id == id);
        Assert.Equal((line, column), (problem.Range.StartLine + 1, problem.Range.StartColumn + 1));
        Assert.Equal(id == ProblemIds.InvalidProbe ? "/probes/bad.probe.json" : "bad.plan.json", problem.FilePath);
        if (problem.Severity == ProblemSeverity.Error) Assert.Null(result.Plan);
    }

    /// <summary>Probe sidecars the bad-plan table can name: one valid, one whose dim does not match the model.</summary>
    private static SidecarFile? Sidecars(string reference) => reference switch
    {
        "good.probe.json" => new SidecarFile("/probes/good.probe.json", ProbeReader.Write(0.5f, Enumerable.Repeat(0.25f, 64).ToArray())),
        "bad.probe.json" => new SidecarFile("/probes/bad.probe.json", "{ \"dim\": 3, \"bias\": 0, \"weights\": [1, 2, 3] }"),
        _ => null,
    };

    [Fact]
    public void Every_dynamic_depth_feature_resolves_into_the_schedule()
    {
        var result = PlanReader.Read("""
            {
              "manifest": "m",
              "exits": [
                { "afterStep": 0, "criterion": "stateSaturation", "threshold": 0.95 },
                { "afterStep": 1, "criterion": "entropy", "threshold": 1.5, "head": { "norm": "exit1.norm", "output": "exit1.output" } },
                { "afterStep": 2, "criterion": "ensemble", "votes": 2, "members": [
                    { "criterion": "patience", "patience": 2 },
                    { "criterion": "margin", "threshold": 0.4 },
                    { "criterion": "learned", "probe": "good.probe.json", "threshold": 0.6 } ] }
              ],
              "skip": [ { "layer": 3, "test": "cosine", "threshold": 0.99 }, { "layer": 1, "test": "learned", "probe": "good.probe.json", "threshold": 0.7 } ],
              "kvFill": "recompute"
            }
            """, "p", Stories, Sidecars);
        Assert.Empty(result.Problems);
        var schedule = ExecutionSchedule.Resolve(result.Plan!, Stories);
        Assert.Equal(KvFill.Recompute, schedule.KvFill);
        Assert.False(schedule.Steps[0].ExitAfter!.NeedsHead);
        Assert.Equal(new ExitHead("exit1.norm", "exit1.output"), schedule.Steps[1].ExitAfter!.Head);
        var ensemble = schedule.Steps[2].ExitAfter!.Test;
        Assert.Equal((ExitCriterion.Ensemble, 2, 3), (ensemble.Criterion, ensemble.Votes, ensemble.Members.Count));
        Assert.True(ensemble.NeedsHead);
        Assert.Equal(["good.probe.json"], ensemble.ProbeFiles);
        Assert.Equal(new SkipRule(1, SkipTest.Learned, 0.7, "good.probe.json"), schedule.Steps[1].Skip);
        Assert.Equal(new SkipRule(3, SkipTest.Cosine, 0.99), schedule.Steps[3].Skip);
        Assert.Null(schedule.Steps[2].Skip);
        var probe = schedule.Probe("good.probe.json");
        Assert.Equal((64, 0.5f, 0.25f), (probe.Dim, probe.Bias, probe.Weights[63]));
        Assert.True(schedule.HasDynamicDepth);
        Assert.Equal("5 steps [0 1 2 3 4], exit after step 0 (state cos ≥ 0.95), exit after step 1 (entropy ≤ 1.5, head exit1.output), " +
                     "exit after step 2 (2 of (patience 2, margin ≥ 0.4, probe good.probe.json ≥ 0.6)), skippable step 1 (probe good.probe.json ≥ 0.7), " +
                     "skippable step 3 (cos ≥ 0.99), kv recompute", schedule.Describe());
    }

    [Fact]
    public void A_lossless_plan_carries_its_speculation_sizes()
    {
        var result = PlanReader.Read("""
            { "manifest": "m", "kvFill": "lossless", "speculation": { "draftSteps": 2, "draftTokens": 6 },
              "exits": [ { "afterStep": 1, "criterion": "maxProbability", "threshold": 0.3 } ] }
            """, "p", Stories);
        Assert.Empty(result.Problems);
        var schedule = ExecutionSchedule.Resolve(result.Plan!, Stories);
        Assert.Equal(new Planning.Speculation(2, 6), schedule.Speculation);
        Assert.Equal(5, schedule.DecodeDepth);
    }

    [Fact]
    public void Skips_apply_only_to_steps_generated_tokens_run()
    {
        var plan = PlanReader.Read("""{ "manifest": "m", "order": [0, 2, 1, 2, 4], "decodeDepth": 4, "skip": [ { "layer": 2, "test": "cosine", "threshold": 0.9 } ] }""", "p", Stories).Plan!;
        var schedule = ExecutionSchedule.Resolve(plan, Stories);
        Assert.Equal([false, true, false, true, false], schedule.Steps.Select(s => s.Skip is not null));
    }

    [Theory]
    [InlineData("{ \"dim\": 2, \"bias\": 1, \"weights\": [1, 2, 3] }", 1, 35)]
    [InlineData("{ \"dim\": 2, \"bias\": \"x\", \"weights\": [1, 2] }", 1, 21)]
    [InlineData("{ \"dim\": 2, \"weights\": [1, 2] }", 1, 1)]
    [InlineData("{ \"dim\": 2, \"bias\": 0, \"weights\": [1, 1e60] }", 1, 39)]
    [InlineData("{ \"dim\": 2, \"bias\": 0, \"weigths\": [1, 2] }", 1, 24)]
    [InlineData("[1, 2]", 1, 1)]
    [InlineData("{ \"dim\": 2, ", 1, 13)]
    public void Bad_probe_files_are_reported_in_the_probe_file(string text, int line, int column)
    {
        var result = ProbeReader.Read(text, "x.probe.json", "/p/x.probe.json", dim: 0);
        Assert.Null(result.Probe);
        var problem = result.Problems.First(p => p.Severity == ProblemSeverity.Error);
        Assert.Equal("/p/x.probe.json", problem.FilePath);
        Assert.Equal((line, column), (problem.Range.StartLine + 1, problem.Range.StartColumn + 1));
    }

    [Fact]
    public void A_written_probe_reads_back_exactly()
    {
        var weights = Enumerable.Range(0, 64).Select(i => MathF.Sin(i) * 1e-3f).ToArray();
        var probe = ProbeReader.Read(ProbeReader.Write(-1.25f, weights, "fit on \"stories\""), "a.probe.json", "a.probe.json", 64).Probe!;
        Assert.Equal(weights, probe.Weights);
        Assert.Equal(-1.25f, probe.Bias);
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
