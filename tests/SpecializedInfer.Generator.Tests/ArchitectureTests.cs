using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Generator.Tests.Support;
using SpecializedInfer.Models;
using SpecializedInfer.Oracles;
using SpecializedInfer.Planning;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Architectures beyond LLaMA 1/2 in generated engines, on the synthetic shapes SpecializedInfer.Tests'
/// ArchitecturesVsLlamaCppTests checks the reference engine against llama.cpp with: a Llama 3.2-shaped model (rope
/// frequency factors read from the file, base 500000, tied output) and a Qwen2.5-shaped one (biases on the query,
/// key and value projections, half-split rotary pairs, one KV head for seven), each in a generated engine equal to
/// the reference engine, and heads whose width is the file's key_length rather than dim / heads (Qwen3, Mistral
/// Nemo); the qwen2 and wide-head engines also against llama.cpp itself. A manifest of an architecture nobody runs
/// gets SI0032 instead of an engine.
/// </summary>
public sealed class ArchitectureTests
{
    private static readonly SyntheticModelSpec Llama32 = new()
    {
        Name = "llama32", Dim = 128, HiddenDim = 384, Layers = 3, Heads = 8, KvHeads = 2, VocabSize = 600, ContextLength = 256,
        RopeTheta = 500000f, Llama3RopeScaling = true, Seed = 31,
    };

    /// <summary>ArchitecturesVsLlamaCppTests' Qwen2.5 shape: heads of 32 (16 rotary pairs: one Vector512 per half).</summary>
    private static readonly SyntheticModelSpec Qwen25 = new()
    {
        Name = "qwen25", Architecture = DecoderArchitecture.Qwen2, Dim = 224, HiddenDim = 608, Layers = 3, Heads = 7, KvHeads = 1,
        VocabSize = 600, ContextLength = 256, RopeTheta = 1000000f, NormEps = 1e-6f, Seed = 32,
    };

    /// <summary>ArchitecturesVsLlamaCppTests' wide-heads shape: 4 heads of 48 (the file's key_length) over dim 128, a query 192 wide.</summary>
    private static readonly SyntheticModelSpec WideHeads = new()
    {
        Name = "wideheads", Dim = 128, HiddenDim = 384, Layers = 3, Heads = 4, KvHeads = 2, HeadDim = 48, VocabSize = 600, ContextLength = 256,
        RopeTheta = 1000000f, NormEps = 1e-6f, Seed = 36,
    };

    private static SyntheticModelSpec Shape(string name) => name switch
    {
        "qwen25" => Qwen25,
        "qwen25q8" => Qwen25 with { Name = "qwen25q8", MatrixType = GgmlType.Q8_0, Seed = 35 },
        "wideheads" => WideHeads,
        "wideheadsq8" => WideHeads with { Name = "wideheadsq8", MatrixType = GgmlType.Q8_0, Seed = 37 },
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>
    /// Writes <paramref name="spec"/>'s model and its manifest (as si manifest writes it) into a temp folder with
    /// <paramref name="plan"/> (which names <c>NAME.model.json</c>), generates and compiles the engine in memory, and
    /// hands <paramref name="use"/> the model's path, the plan's and the loaded engine; returns the generated trees.
    /// </summary>
    private static string[] WithGeneratedEngine(SyntheticModelSpec spec, string plan, Action<string, string, ILanguageModel> use,
        IReadOnlyDictionary<string, string>? msbuildProperties = null)
    {
        var dir = Directory.CreateTempSubdirectory($"si-{spec.Name}-").FullName;
        try
        {
            var model = Path.Combine(dir, spec.Name + ".gguf");
            SyntheticModel.Write(spec, model);
            string manifest;
            using (var weights = LlamaWeights.Load(model, layersToBind: []))
                manifest = ManifestWriter.ToJson(ManifestCheck.FromFile(weights.File, weights.Config, spec.Name));
            var planPath = Path.Combine(dir, spec.Name + ".plan.json");
            File.WriteAllText(Path.Combine(dir, spec.Name + ".model.json"), manifest);
            File.WriteAllText(planPath, plan);
            List<Microsoft.CodeAnalysis.AdditionalText> texts =
            [
                new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/arch/{spec.Name}.model.json", manifest),
                new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/arch/{spec.Name}.plan.json", plan),
            ];
            var result = InMemoryEngines.CompileAndLoad($"namespace Arch; [SpecializedInfer.SpecializedEngine(\"arch/{spec.Name}.plan.json\")] public partial class Engine;",
                texts, assembly =>
                {
                    var load = assembly.GetType("Arch.Engine", throwOnError: true)!.GetMethod("Load", [typeof(string)])!;
                    using var engine = (ILanguageModel)load.Invoke(null, [model])!;
                    use(model, planPath, engine);
                }, msbuildProperties);
            return result.GeneratedTrees.Select(t => t.ToString()).ToArray();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The generated engine of <paramref name="spec"/> and <paramref name="plan"/> against the reference engine running
    /// the same plan over 64 positions (1e-4), where with <paramref name="exits"/> some tokens must exit early.
    /// </summary>
    private static string[] CompareWithReference(SyntheticModelSpec spec, string plan, IReadOnlyDictionary<string, string>? msbuildProperties = null, bool exits = true) =>
        WithGeneratedEngine(spec, plan, (model, planPath, generated) =>
        {
            using var reference = ReferenceEngine.Load(model, planPath);
            var statistics = Comparison.Run(generated, reference, spec.VocabSize).Statistics;
            long exited = 0;
            foreach (var n in statistics.ExitsPerStep) exited += n;
            Assert.True(exited > 0 || !exits, "no token exited early"); // else the K/V of skipped steps would go untested
        }, msbuildProperties);

    /// <summary>Exits after steps 0 and 1 at thresholds low enough for the flat distributions of random weights, with propagation.</summary>
    private static string ExitsPlan(SyntheticModelSpec spec) => $$"""
        { "manifest": "{{spec.Name}}.model.json", "kvFill": "propagate",
          "exits": [ { "afterStep": 0, "criterion": "maxProbability", "threshold": 0.025 }, { "afterStep": 1, "criterion": "maxProbability", "threshold": 0.015 } ] }
        """;

    [Fact]
    public void A_llama_3_engine_with_rope_frequency_factors_matches_the_reference()
    {
        // An exit after step 1 with propagation: the rotary table also turns the keys projected for skipped steps.
        var trees = CompareWithReference(Llama32,
            """{ "manifest": "llama32.model.json", "exits": [ { "afterStep": 1, "criterion": "maxProbability", "threshold": 0.2 } ] }""", exits: false);
        Assert.Contains(trees, t => t.Contains("RopeTable.For(weights, _capacity)"));
    }

    [Theory]
    [InlineData("f32", false)]
    [InlineData("f32", true)]
    [InlineData("q8_0", false)]
    public void A_qwen2_engine_with_exits_matches_the_reference(string type, bool mapped)
    {
        var spec = Shape(type == "q8_0" ? "qwen25q8" : "qwen25");
        // Exits with propagation: the keys and values projected for the steps a token skipped carry their biases too.
        var trees = CompareWithReference(spec, ExitsPlan(spec), mapped ? new Dictionary<string, string> { ["SpecializedInferWeightCopyLimit"] = "0" } : null);
        var kernels = Assert.Single(trees, t => t.Contains("internal abstract class EngineKernels"));
        Assert.Contains("ggml's NeoX mode", kernels);
        Assert.Contains("public static void AddBias224(", kernels); // the query's bias
        Assert.Contains("public static void AddBias32(", kernels);  // the key's and value's
        Assert.Contains(trees, t => t.Contains(mapped ? "Biases!.Query.Span" : type == "q8_0" ? "Weights.Biases!.Query.Span" : "queryBias: Arena("));
    }

    [Theory]
    [InlineData("wideheads")]
    [InlineData("wideheadsq8")]
    public void An_engine_whose_heads_are_not_dim_over_heads_wide_matches_the_reference(string shape)
    {
        var spec = Shape(shape);
        var trees = CompareWithReference(spec, ExitsPlan(spec));
        Assert.Contains(trees, t => t.Contains("private const int QueryDim = 192, KvDim = 96,"));
    }

    [Theory]
    [InlineData("qwen25")]
    [InlineData("wideheads")]
    public void A_generated_engine_matches_llama_cpp_at_every_position(string shape)
    {
        var spec = Shape(shape);
        WithGeneratedEngine(spec, $$"""{ "manifest": "{{spec.Name}}.model.json" }""", (model, _, engine) =>
        {
            using var oracle = new LlamaCppOracle(model, contextSize: 256);
            var rng = new Random(7);
            var tokens = new[] { oracle.BosToken }.Concat(Enumerable.Range(0, 95).Select(_ => rng.Next(3, oracle.VocabSize))).ToArray();
            var expected = oracle.LogitsForAllPositions(tokens, maxBatch: 1);
            using var session = engine.CreateSession(tokens.Length);
            // The first 16 tokens as one prompt (the batched pass), then one at a time (the single-position steps).
            const int prompt = 16;
            Check(session.Forward(tokens.AsSpan(0, prompt)), expected[prompt - 1], prompt - 1);
            for (var pos = prompt; pos < tokens.Length; pos++) Check(session.Forward(tokens[pos]), expected[pos], pos);
        });

        static void Check(ReadOnlySpan<float> actual, float[] expected, int pos)
        {
            var worst = Comparison.MaxAbsDiff(actual, expected);
            Assert.True(worst <= Comparison.Tolerance, $"position {pos}: logits differ from llama.cpp's by {worst:E2} (tolerance {Comparison.Tolerance})");
        }
    }

    [Fact]
    public void A_manifest_of_an_unsupported_architecture_is_reported_with_the_supported_ones()
    {
        const string manifest = """
            { "architecture": "phi3", "dim": 224, "hiddenDim": 608, "layers": 3, "heads": 7, "kvHeads": 1, "normEps": 1e-6,
              "ropeTheta": 1000000, "vocabSize": 600, "contextLength": 256, "tiedOutput": true }
            """;
        var problem = Assert.Single(ManifestReader.Read(manifest, "phi.model.json").Problems);
        Assert.Equal(ProblemIds.UnsupportedArchitecture, problem.Id);
        Assert.Contains("'phi3' is not supported yet; supported: llama, qwen2, bert", problem.Message);
        // qwen2 is read for the generator, its forward pass fixed by the architecture: half-split rotary pairs and projection biases.
        var qwen = ManifestReader.Read(manifest.Replace("phi3", "qwen2"), "qwen.model.json");
        Assert.Empty(qwen.Problems);
        Assert.Equal(RopeStyle.HalfSplit, qwen.Manifest!.RopeStyle);
        Assert.True(qwen.Manifest.AttentionBias);
    }
}
