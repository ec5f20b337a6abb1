using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Json;

namespace SpecializedInfer.Tests.Plans;

/// <summary>Plans and manifests as a user writes them: what they mean, and where each mistake is reported.</summary>
public sealed class PlanReaderTests
{
    internal static readonly ModelManifest Stories = ManifestReader.Read(
        File.ReadAllText(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json")), "stories260K.model.json").Manifest!;

    [Fact]
    public void The_shipped_manifest_is_the_model_file_topology()
    {
        Assert.Equal((64, 172, 5, 8, 4, 8, 8, 512, 2048, false),
            (Stories.Dim, Stories.HiddenDim, Stories.Layers, Stories.Heads, Stories.KvHeads, Stories.HeadDim, Stories.RotaryDims, Stories.VocabSize, Stories.ContextLength, Stories.TiedOutput));
        Assert.Equal(1e-5, Stories.NormEps, 12);
        using var weights = Models.LlamaWeights.Load(ModelLocator.Find("stories260K.gguf"), layersToBind: []);
        Assert.Equal(Stories, ManifestCheck.FromFile(weights.File, weights.Config, "stories260K"));
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
        // embeddingCosine decides on pooled sentence embeddings: encoders only, and it names no head
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"embeddingCosine\", \"threshold\": 0.9 } ] }", ProblemIds.UnsupportedArchitecture, 2, 43 },
        { "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"embeddingCosine\", \"threshold\": 0.9, \"head\": { \"norm\": \"n\", \"output\": \"o\" } } ] }", ProblemIds.UnknownProperty, 2, 80 },
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

    /// <summary>
    /// Hostile plans (generated, since they are large): each must come back as a bounded list of problems that names
    /// the mistake, in time linear in its size. Before the limits, the first two ran the reference engine out of
    /// memory (a KV cache per step) and printed 999,999 lines; the share, skip, exit and lossless ones were quadratic.
    /// </summary>
    private static readonly Dictionary<string, (Func<string> Text, string Id, string? Message)> HostilePlans = new()
    {
        ["'order' with 100,000 steps"] = (() => Body($"\"order\": [{Repeat("0", 100_000)}]"), ProblemIds.LimitExceeded, "'order' has 100,000 steps; a plan for a 5-layer model may run at most 80"),
        ["'order' one step over 16 per layer"] = (() => Body($"\"order\": [{Repeat("1", 81)}]"), ProblemIds.LimitExceeded, "at most 80 (16 per layer)"),
        ["'prune' repeating one layer 1,000,000 times"] = (() => Body($"\"prune\": [{Repeat("1", 1_000_000)}]"), ProblemIds.DuplicateIndex, "Layer 1 is listed twice in 'prune' (999,999 times in this file; the first is shown)"),
        ["'prune' with 400,000 different out-of-range layers"] = (() => Body($"\"prune\": [{string.Join(",", Enumerable.Range(5, 400_000))}]"), ProblemIds.LimitExceeded, "399,900 more problems in this file are not listed (at most 100 are)"),
        ["'share' with 100,000 entries"] = (() => Body($"\"share\": [{Repeat("{ \"layer\": 3, \"weightsOf\": 1 }", 100_000)}]"), ProblemIds.DuplicateIndex, "Layer 3 is given shared weights twice (99,999 times"),
        ["'exits' with 50,000 entries"] = (() => Body($"\"exits\": [{Repeat("{ \"afterStep\": 1, \"criterion\": \"margin\", \"threshold\": 0.5 }", 50_000)}]"), ProblemIds.DuplicateExit, "Two exits after step 1 (49,999 times"),
        ["'skip' with 50,000 entries"] = (() => Body($"\"skip\": [{Repeat("{ \"layer\": 2, \"test\": \"cosine\", \"threshold\": 0.9 }", 50_000)}]"), ProblemIds.DuplicateIndex, "Layer 2 is made skippable twice (49,999 times"),
        ["an ensemble of 50,000 patience members that can never fire"] = (() => Body(
            "\"kvFill\": \"lossless\", \"speculation\": { \"draftSteps\": 2, \"draftTokens\": 4 }, \"exits\": [ " +
            "{ \"afterStep\": 0, \"criterion\": \"margin\", \"threshold\": 0.5 }, { \"afterStep\": 2, \"criterion\": \"margin\", \"threshold\": 0.5 }, " +
            $"{{ \"afterStep\": 1, \"criterion\": \"ensemble\", \"votes\": 1, \"members\": [{Repeat("{ \"criterion\": \"patience\", \"patience\": 9 }", 50_000)}] }} ]"),
            ProblemIds.PatienceTooLong, "(50,000 times in this file; the first is shown)"),
        ["100,000 unknown properties close to known ones"] = (() => Body(string.Join(", ", Enumerable.Range(0, 100_000).Select(i => $"\"prune{i}\": 1"))), ProblemIds.LimitExceeded, "99,900 more problems"),
        ["a property name of 1,000,000 characters"] = (() => Body($"\"{new string('x', 1_000_000)}\": 1"), ProblemIds.UnknownProperty, "Unknown property 'xxxxxxxx"),
        ["a file over 4 MiB"] = (() => Body($"\"description\": \"{new string('d', InputLimits.MaxFileBytes)}\""), ProblemIds.LimitExceeded, "plan, manifest and probe files may be at most 4,194,304 bytes"),
        ["a file over 4 MiB in UTF-8 but not in characters"] = (() => Body($"\"description\": \"{new string('\u00e9', InputLimits.MaxFileBytes / 2 + 1)}\""), ProblemIds.LimitExceeded, "The file is 4,194,3"),
    };

    private static string Body(string rest) => "{ \"manifest\": \"m\",\n" + rest + " }";

    private static string Repeat(string item, int count) => string.Join(", ", Enumerable.Repeat(item, count));

    public static TheoryData<string> HostilePlanNames => [.. HostilePlans.Keys];

    [Theory]
    [MemberData(nameof(HostilePlanNames))]
    public void Hostile_plans_get_a_bounded_list_of_problems_naming_the_mistake(string name)
    {
        var (text, id, message) = HostilePlans[name];
        var result = PlanReader.Read(text(), "hostile.plan.json", Stories, Sidecars);
        Assert.Null(result.Plan);
        Assert.InRange(result.Problems.Count, 1, InputLimits.MaxProblemsPerFile + 1);
        var problem = Assert.Single(result.Problems, p => p.Id == id && (message is null || p.Message.Contains(message)));
        Assert.Equal(ProblemSeverity.Error, problem.Severity);
        Assert.All(result.Problems, p => Assert.InRange(p.Message.Length, 1, 1000));
    }

    [Fact]
    public void The_step_bound_is_16_per_layer_and_the_longest_allowed_order_resolves()
    {
        var longest = PlanReader.Read(Body($"\"order\": [{Repeat("2", 80)}]"), "p", Stories);
        Assert.Empty(longest.Problems);
        Assert.Equal(80, ExecutionSchedule.Resolve(longest.Plan!, Stories).Steps.Count);
        // Without a manifest the structure alone is checked: no bound is known yet.
        Assert.Empty(PlanReader.Read(Body($"\"order\": [{Repeat("2", 1000)}]"), "p", manifest: null).Problems);
    }

    [Fact]
    public void Manifests_and_probes_have_the_same_caps()
    {
        var manifest = ManifestReader.Read("{ " + string.Join(", ", Enumerable.Range(0, 5000).Select(i => $"\"x{i}\": 1")) + " }", "m.model.json");
        Assert.Null(manifest.Manifest);
        Assert.InRange(manifest.Problems.Count, 1, InputLimits.MaxProblemsPerFile + 1);
        Assert.Contains(manifest.Problems, p => p.Id == ProblemIds.LimitExceeded && p.Message.StartsWith("4,9", StringComparison.Ordinal));

        var probe = ProbeReader.Read($"{{ \"dim\": 2, \"bias\": 0, \"weights\": [{Repeat("1e300", 200_000)}] }}", "p.probe.json", "p.probe.json", 0);
        Assert.Null(probe.Probe);
        Assert.Equal([ProblemIds.InvalidProbe], probe.Problems.Select(p => p.Id));
        Assert.Contains("(200,000 times in this file; the first is shown)", probe.Problems[0].Message);

        Assert.Equal(ProblemIds.LimitExceeded, Assert.Single(ManifestReader.Read(new string(' ', InputLimits.MaxFileBytes + 1), "m.model.json").Problems).Id);
    }

    /// <summary>
    /// Files the runtime's PlanLoader must refuse before reading them whole: name → (the plan's text after its manifest
    /// reference, the path the SI0037 error must name). "M" stands for the manifest's path and "D" for the folder.
    /// </summary>
    private static readonly Dictionary<string, (string Manifest, string Tail, string BadPath)> HostileFiles = new()
    {
        ["probe /dev/zero"] = ("M", ", \"exits\": [ { \"afterStep\": 1, \"criterion\": \"learned\", \"threshold\": 0.5, \"probe\": \"/dev/zero\" } ]", "/dev/zero"),
        ["manifest /dev/urandom"] = ("/dev/urandom", "", "/dev/urandom"),
        ["manifest /dev/zero"] = ("/dev/zero", "", "/dev/zero"),
        ["manifest over 4 MiB"] = ("D/huge.model.json", "", "D/huge.model.json"),
        ["probe over 4 MiB"] = ("M", ", \"skip\": [ { \"layer\": 2, \"test\": \"learned\", \"threshold\": 0.5, \"probe\": \"huge.probe.json\" } ]", "D/huge.probe.json"),
        ["plan over 4 MiB"] = ("M", $", \"description\": \"{new string('x', InputLimits.MaxFileBytes)}\"", "D/p.plan.json"),
        ["'order' with 100,000 steps"] = ("M", $", \"order\": [{Repeat("0", 100_000)}]", "D/p.plan.json"),
    };

    public static TheoryData<string> HostileFileNames => [.. HostileFiles.Keys];

    [Theory]
    [MemberData(nameof(HostileFileNames))]
    public void The_plan_loader_refuses_devices_huge_files_and_huge_schedules_naming_the_file(string name)
    {
        var dir = Directory.CreateTempSubdirectory("si-hostile-").FullName;
        try
        {
            var manifestPath = Path.Combine(dir, "stories260K.model.json");
            File.Copy(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json"), manifestPath);
            var padding = new string(' ', InputLimits.MaxFileBytes);
            File.WriteAllText(Path.Combine(dir, "huge.model.json"), File.ReadAllText(manifestPath) + padding);
            File.WriteAllText(Path.Combine(dir, "huge.probe.json"), ProbeReader.Write(0f, new float[64]) + padding);
            var (manifest, tail, bad) = HostileFiles[name];
            string Resolve(string p) => p == "M" ? manifestPath : p.StartsWith("D/", StringComparison.Ordinal) ? Path.Combine(dir, p[2..]) : p;
            var planPath = Path.Combine(dir, "p.plan.json");
            File.WriteAllText(planPath, $"{{ \"manifest\": \"{Resolve(manifest)}\"{tail} }}");

            var e = Assert.Throws<PlanException>(() => SpecializedInfer.Engine.ReferenceEngine.Load(ModelLocator.Find("stories260K.gguf"), planPath));
            var problem = Assert.Single(e.Problems);
            Assert.Equal((ProblemIds.LimitExceeded, Resolve(bad)), (problem.Id, problem.FilePath));
            Assert.StartsWith(Resolve(bad) + "(1,", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
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
        { "\"heads\": 8, \"headDim\": 200000", ProblemIds.HeadDimMismatch },
        { "\"heads\": 8, \"kvHeads\": 3", ProblemIds.KvHeadsDoNotDivideHeads },
        { "\"heads\": 5, \"kvHeads\": 1, \"headDim\": 24, \"hiddenDim\": 192, \"weightType\": \"q8_0\"", ProblemIds.WeightBlocksDoNotDivide }, // a query 120 wide
        { "\"heads\": 8, \"rotaryDims\": 10", ProblemIds.RotaryDimsTooLarge },
        { "\"heads\": 8, \"vocabSize\": 0", ProblemIds.NonPositiveSize },
        { "\"heads\": 8, \"architecture\": \"phi3\"", ProblemIds.UnsupportedArchitecture }, // not supported at all
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

    [Theory]
    [InlineData(16, 7, 112)] // heads wider than dim / heads (Qwen3-0.6B: 16 heads of 128 over dim 1024), heads not dividing dim
    [InlineData(4, 8, 32)]   // narrower
    public void A_head_width_other_than_dim_over_heads_is_read_with_its_query_width(int headDim, int heads, int queryDim)
    {
        var result = ManifestReader.Read($$"""{ "architecture": "llama", "dim": 64, "hiddenDim": 176, "layers": 2, "heads": {{heads}}, "kvHeads": 1, "headDim": {{headDim}}, "vocabSize": 400, "contextLength": 256, "normEps": 1e-5 }""", "wide.model.json");
        Assert.Empty(result.Problems);
        Assert.Equal(queryDim, result.Manifest!.QueryDim);
        Assert.Equal(headDim, result.Manifest.RotaryDims);
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
