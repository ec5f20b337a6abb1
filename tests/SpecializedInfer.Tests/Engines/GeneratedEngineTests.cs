using SpecializedInfer.Cli;
using SpecializedInfer.Cli.Engines;
using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Engines;

/// <summary>
/// <c>--engine generated</c>: plans compiled in-process through the generator and loaded by the shared
/// <see cref="EngineFactory"/> compute what the reference engine computes, are built once and then read from the
/// cache, survive a damaged cache entry, and a bad plan fails with the same SI diagnostics as on the reference path.
/// </summary>
[Collection(GeneratedEngineFixture.Collection)]
public sealed class GeneratedEngineTests(GeneratedEngineFixture engines) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-generated-").FullName;

    private static string Stories => ModelLocator.Find("stories260K.gguf");
    private static string Models => ReferencePlanExecutionTests.RepositoryModels;

    /// <summary>A plan beside a copy of the stories260K manifest.</summary>
    private string Plan(string name, string json)
    {
        File.Copy(Path.Combine(Models, "stories260K.model.json"), Path.Combine(_dir, "stories260K.model.json"), overwrite: true);
        var path = Path.Combine(_dir, name + ".plan.json");
        File.WriteAllText(path, "{ \"manifest\": \"stories260K.model.json\"" + (json.Length > 0 ? ", " + json : "") + " }");
        return path;
    }

    public static TheoryData<string> Plans() =>
    [
        "models/stories260K.full.plan.json",
        "models/stories260K.fast.plan.json",                   // an exit
        "models/eval/plans/stories260K.skip97.plan.json",      // dynamic skipping
        "models/eval/plans/stories260K.exit2-recompute.plan.json",
        "models/stories260K.lossless.plan.json",               // self-speculative
        "reorder",                                             // prune, share and order (written by the test)
    ];

    [Theory]
    [MemberData(nameof(Plans))]
    public void A_generated_engine_computes_what_the_reference_engine_computes(string plan)
    {
        var planPath = plan == "reorder"
            ? Plan("reorder", "\"prune\": [1], \"share\": [ { \"layer\": 4, \"weightsOf\": 2 } ], \"order\": [0, 3, 2, 4]")
            : Path.Combine(Models, "..", plan);
        using var generated = engines.Generated.Load(Stories, planPath);
        using var reference = engines.Reference.Load(Stories, planPath);
        Assert.Equal(EngineKind.Generated, generated.Kind);
        Assert.StartsWith("generated engine ", generated.Description);
        Assert.NotEqual("reference", generated.Engine.Name);
        Assert.Equal(reference.Engine.Schedule, generated.Engine.Schedule);

        // Logits, teacher-forced on the reference's argmax: a prompt in one call, then one token at a time.
        using (var g = generated.Engine.CreateSession(64))
        using (var r = reference.Engine.CreateSession(64))
        {
            int[] prompt = [1, 403, 407, 261, 378, 13, 30];
            var expected = r.Forward(prompt).ToArray();
            Assert.True(MaxDifference(g.Forward(prompt), expected) <= 1e-4f);
            for (var i = 0; i < 40; i++)
            {
                var next = ArgMax(expected);
                expected = r.Forward(next).ToArray();
                var difference = MaxDifference(g.Forward(next), expected);
                Assert.True(difference <= 1e-4f, $"position {prompt.Length + i}: logits differ by {difference}");
            }
        }

        // Greedy text through the generator that si run uses (self-speculative for the lossless plan).
        Assert.Equal(Greedy(reference), Greedy(generated));
    }

    private static int[] Greedy(LoadedEngine loaded)
    {
        using var session = loaded.Engine.CreateSession(128);
        var generator = new TextGenerator(session, new Sampler(new SamplingOptions(), loaded.Engine.Config.VocabSize), eosId: -1);
        return generator.Generate([1, 403, 407], 80).ToArray();
    }

    [Fact]
    public void The_second_load_reads_the_cache_without_compiling_and_a_damaged_entry_is_rebuilt()
    {
        var plan = Plan("cached", "\"exits\": [ { \"afterStep\": 2, \"criterion\": \"entropy\", \"threshold\": 1.0 } ]");
        var before = GeneratedEngineCompiler.Compilations;
        EngineBuild First()
        {
            using var loaded = engines.Generated.Load(Stories, plan);
            return loaded.Build!;
        }
        var built = First();
        Assert.False(built.FromCache);
        Assert.Equal(before + 1, GeneratedEngineCompiler.Compilations);
        Assert.True(File.Exists(built.CachePath));
        Assert.StartsWith(engines.Cache, built.CachePath);

        var hit = First();
        Assert.True(hit.FromCache);
        Assert.Equal(built.CachePath, hit.CachePath);
        Assert.Equal(before + 1, GeneratedEngineCompiler.Compilations); // nothing compiled

        // Damage the entry two ways: a flipped byte inside the assembly, then a truncation.
        foreach (var damage in new Action<string>[]
                 {
                     path => { var bytes = File.ReadAllBytes(path); bytes[bytes.Length / 2] ^= 0x5A; File.WriteAllBytes(path, bytes); },
                     path => { var bytes = File.ReadAllBytes(path); File.WriteAllBytes(path, bytes[..(bytes.Length / 3)]); },
                 })
        {
            var compiled = GeneratedEngineCompiler.Compilations;
            damage(built.CachePath);
            var rebuilt = First();
            Assert.False(rebuilt.FromCache);
            Assert.True(rebuilt.RebuiltDamagedEntry);
            Assert.Equal(compiled + 1, GeneratedEngineCompiler.Compilations);
            Assert.True(First().FromCache);
        }
        Assert.Empty(Directory.GetFiles(engines.Cache, "*.tmp")); // written aside and renamed: nothing left behind
    }

    [Fact]
    public void The_cache_key_follows_every_source_file()
    {
        var plan = Plan("keyed", "");
        var sources = EngineSources.ForPlan(PlanLoader.Load(plan));
        var key = EngineCache.Key(sources);
        Assert.Equal(key, EngineCache.Key(EngineSources.ForPlan(PlanLoader.Load(plan))));
        File.WriteAllText(plan, File.ReadAllText(plan) + " ");
        Assert.NotEqual(key, EngineCache.Key(EngineSources.ForPlan(PlanLoader.Load(plan))));
        var manifest = Path.Combine(_dir, "stories260K.model.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"name\": \"stories260K\"", "\"name\": \"stories\""));
        Assert.NotEqual(key, EngineCache.Key(EngineSources.ForPlan(PlanLoader.Load(plan))));
    }

    [Fact]
    public void Si_run_with_the_generated_engine_prints_the_reference_story_and_says_how_the_engine_was_built()
    {
        var plan = Path.Combine(Models, "stories260K.fast.plan.json");
        string[] args = ["run", "--model", Stories, "--prompt", "Once upon a time", "-n", "40", "--plan", plan];
        var reference = Cli.Si.RunCaching(engines.Cache, args);
        var first = Cli.Si.RunCaching(engines.Cache, [.. args, "--engine", "generated"]);
        var second = Cli.Si.RunCaching(engines.Cache, [.. args, "--engine", "generated"]);
        Assert.Equal((ExitCodes.Success, ExitCodes.Success, ExitCodes.Success), (reference.Code, first.Code, second.Code));
        Assert.Equal(reference.Out, first.Out);
        Assert.Equal(reference.Out, second.Out);

        var lines = second.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^generated engine Stories260KFast (compiled in [0-9,]+ ms, cached as|loaded from the cache in [0-9,]+ ms) ", first.Err.Split('\n')[0]);
        Assert.Matches(@"^generated engine Stories260KFast loaded from the cache in [0-9,]+ ms \(.+\.engine\)$", lines[0]);
        Assert.StartsWith("generated engine Stories260KFast, plan stories260K.fast.plan.json: 5 steps [0 1 2 3 4], exit after step 3", lines[1]);
        Assert.Matches(@"^40 generated tokens, 39 decode steps in [0-9.]+ ms \([0-9.]+ tokens/s after the first step; the first took [0-9.]+ ms, JIT compilation included\)$", lines[3]);
    }

    [Fact]
    public void Si_run_without_a_plan_compiles_the_full_model_from_the_file()
    {
        string[] args = ["run", "--model", Stories, "--prompt", "Once upon a time", "-n", "30"];
        var generated = Cli.Si.RunCaching(engines.Cache, [.. args, "--engine", "generated"]);
        Assert.Equal(ExitCodes.Success, generated.Code);
        Assert.Equal(Cli.Si.Run(args).Out, generated.Out);
        Assert.Contains("generated engine Stories260KFullModel, the full model (no plan)", generated.Err);
    }

    [Fact]
    public void Si_eval_measures_the_generated_engines_of_the_plan_and_the_full_model()
    {
        var prompts = Path.Combine(_dir, "prompts.txt");
        File.WriteAllText(prompts, "Once upon a time\nThe cat sat\n");
        var json = Path.Combine(_dir, "report.json");
        var (code, text, err) = Cli.Si.RunCaching(engines.Cache, "eval", "--model", Stories, "--plan", Path.Combine(Models, "stories260K.full.plan.json"),
            "--prompts", prompts, "-n", "24", "--engine", "generated", "--json", json);
        Assert.True(code == ExitCodes.Success, err);
        Assert.Contains("generated engine Stories260KFullModel", err);
        Assert.Contains("generated engine Stories260KFull ", err);
        Assert.Contains("decode tokens/s, generated engines", text);
        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(json));
        var root = report.RootElement;
        Assert.Equal("generated", root.GetProperty("engine").GetString());
        // Two generated engines of the same full model: the same logits, so no divergence at all.
        Assert.Equal(1.0, root.GetProperty("teacherForced").GetProperty("agreement").GetDouble());
        Assert.Equal(0.0, root.GetProperty("teacherForced").GetProperty("meanKl").GetDouble());
        Assert.True(root.GetProperty("speed").GetProperty("plan").GetProperty("tokensPerSecond").GetDouble() > 0);
        Assert.True(root.GetProperty("speed").GetProperty("full").GetProperty("tokensPerSecond").GetDouble() > 0);
    }

    [Fact]
    public void A_bad_plan_gives_the_same_SI_diagnostics_and_exit_1_on_both_engines()
    {
        var plan = Plan("bad", "\"prune\": [9], \"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 2.5, \"extra\": 1 } ]");
        string[] args = ["run", "--model", Stories, "--prompt", "x", "-n", "1", "--plan", plan];
        var reference = Cli.Si.RunCaching(engines.Cache, args);
        var generated = Cli.Si.RunCaching(engines.Cache, [.. args, "--engine", "generated"]);
        Assert.Equal((ExitCodes.Failure, ExitCodes.Failure), (reference.Code, generated.Code));
        Assert.Equal(reference.Err, generated.Err);
        Assert.Equal("", generated.Out);
        Assert.Matches(@"^error: .*bad\.plan\.json\(1,[0-9]+\): error SI[0-9]{4}: ", generated.Err);
    }

    [Fact]
    public void A_plan_only_the_analyzer_rejects_gets_its_SI_diagnostic_and_exit_1()
    {
        // A manifest the plan reader takes but no generated engine can index (vocab × dim past int.MaxValue): the
        // generator emits nothing and the analyzer says why, at the manifest's line and column.
        var manifest = File.ReadAllText(Path.Combine(Models, "stories260K.model.json")).Replace("\"vocabSize\": 512", "\"vocabSize\": 16777216").Replace("\"dim\": 64", "\"dim\": 256").Replace("\"headDim\": 8", "\"headDim\": 32");
        File.WriteAllText(Path.Combine(_dir, "huge.model.json"), manifest);
        var plan = Path.Combine(_dir, "huge.plan.json");
        File.WriteAllText(plan, "{ \"manifest\": \"huge.model.json\" }");
        Assert.NotNull(PlanLoader.Load(plan).Schedule);

        var compiled = GeneratedEngineCompiler.Compilations;
        var (code, text, err) = Cli.Si.RunCaching(engines.Cache, "run", "--model", Stories, "--prompt", "x", "--plan", plan, "--engine", "generated");
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Equal("", text);
        var line = manifest.Split('\n').Select((l, i) => (l, i)).Single(x => x.l.Contains("vocabSize")).i + 1;
        Assert.Matches($@"^error: .*huge\.model\.json\({line},[0-9]+\): error SI[0-9]{{4}}: A 16777216×256 weight matrix has 4294967296 elements, more than one tensor can index \(2147483647\)\r?\n$", err);
        Assert.Equal(compiled, GeneratedEngineCompiler.Compilations);
    }

    [Fact]
    public void A_sub_layer_plan_runs_on_the_generated_engine_as_on_the_reference_or_is_refused_with_SI0039()
    {
        // Sub-layer drops came to the reference engine first; a generated engine either runs them exactly (the same
        // story) or says, with SI0039 at the plan's line and column, that it cannot yet - never a different text.
        var plan = Plan("sublayer", "\"skipAttention\": [2], \"skipFeedForward\": [3]");
        string[] args = ["run", "--model", Stories, "--prompt", "Once upon a time", "-n", "24", "--plan", plan];
        var reference = Cli.Si.RunCaching(engines.Cache, args);
        var generated = Cli.Si.RunCaching(engines.Cache, [.. args, "--engine", "generated"]);
        Assert.True(reference.Code == ExitCodes.Success, reference.Err);
        if (generated.Code == ExitCodes.Success) Assert.Equal(reference.Out, generated.Out);
        else
        {
            Assert.Equal((ExitCodes.Failure, ""), (generated.Code, generated.Out));
            Assert.Matches(@"^error: .*sublayer\.plan\.json\(1,[0-9]+\): error SI0039: ", generated.Err);
        }
    }

    [Fact]
    public void A_missing_model_fails_before_anything_is_compiled()
    {
        var compiled = GeneratedEngineCompiler.Compilations;
        var plan = Plan("unused", "\"decodeDepth\": 2");
        var (code, _, err) = Cli.Si.RunCaching(engines.Cache, "run", "--model", Path.Combine(_dir, "absent.gguf"), "--prompt", "x", "--plan", plan, "--engine", "generated");
        Assert.Equal(ExitCodes.Failure, code);
        Assert.StartsWith("error: ", err);
        Assert.Contains("absent.gguf", err);
        Assert.Equal(compiled, GeneratedEngineCompiler.Compilations);
    }

    [Fact]
    public void Engine_takes_reference_or_generated()
    {
        var (code, _, err) = Cli.Si.Run("run", "--model", Stories, "--prompt", "x", "--engine", "jit");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.StartsWith("error: Option --engine takes reference or generated, got 'jit'.", err);
    }

    private static float MaxDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        var max = 0f;
        for (var i = 0; i < a.Length; i++) max = MathF.Max(max, MathF.Abs(a[i] - b[i]));
        return max;
    }

    private static int ArgMax(ReadOnlySpan<float> v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
