using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// The generated source is checked in under Baselines/ so a change to the emitter shows up as a readable diff: the
/// two plans in models/, one engine per kind of plan under Plans/ (skips, exits, recompute, lossless, exit heads,
/// learned probes, odd and large shapes), engines that keep Q8_0/Q4_0 weights quantized, and engines that read the
/// file mapping instead of an aligned copy, and generated encoders. Each engine is two files (X.g.cs and its kernels, X.Kernels.g.cs); every
/// run adds the kernels' shared helpers (SpecializedInfer.Generated.VectorMath.g.cs). SPECIALIZEDINFER_UPDATE_BASELINES=1 rewrites the baselines
/// instead of comparing.
/// </summary>
public sealed class BaselineTests
{
    public const string Source = """
        namespace Demo;

        [SpecializedInfer.SpecializedEngine("models/stories260K.full.plan.json")]
        public partial class StoriesFull;

        [SpecializedInfer.SpecializedEngine("models/stories260K.fast.plan.json")]
        public partial class StoriesFast;
        """;

    /// <summary>One engine per kind of plan (tests/.../Plans), each in the namespace named by its run.</summary>
    private static readonly Dictionary<string, (string Class, string Plan)[]> PlanRuns = new()
    {
        ["Plans"] =
        [
            ("S260Cosskip", "s260.cosskip.plan.json"),         // skip, cosine test
            ("S260Learnedskip", "s260.learnedskip.plan.json"), // skip, learned probe
            ("S260Recompute", "s260.recompute.plan.json"),     // exits with kvFill recompute
            ("S260Lossless", "s260.lossless.plan.json"),       // lossless self-speculation
            ("S260Patience", "s260.patience.plan.json"),       // patience exits
            ("S260Ensemble", "s260.ensemble.plan.json"),       // ensemble exits (patience, probe, margin, saturation)
            ("S260hExithead", "s260h.exithead.plan.json"),     // an exit head of its own
            ("S260hAdapter", "s260h.adapter.plan.json"),       // an exit adapter before the model's own head
            ("S260Learnedexit", "s260.learnedexit.plan.json"), // learned-probe exits
            ("OddLossless", "odd.lossless.plan.json"),         // odd shapes: tails of every width, padded rows; entropy drafts
            ("MhaFull", "mha.full.plan.json"),                 // long heads, x not register-resident, prefetching kernels
            ("S260Merge", "s260.merge.plan.json"),             // LaCo merges at load, a step without feed-forward
            ("S260Sublayer", "s260.sublayer.plan.json"),       // steps without attention (no KV slot) or feed-forward
            ("QwenExits", "qwen.exits.plan.json"),             // qwen2: projection biases, half-split RoPE, propagation
        ],
        // Q8_0/Q4_0 layers kept quantized (QuantizedLayout): integer kernels over repacked tiles, reference-order glue.
        ["Quantized"] =
        [
            ("S260q8Full", "s260q8.full.plan.json"),       // Q8_0 layers, the head by its type in the file
            ("S260q8Merge", "s260q8.merge.plan.json"),     // a merged (F32) layer beside Q8_0 ones
            ("Q4synLossless", "q4syn.lossless.plan.json"), // Q4_0, partial tiles, batched heads
            ("Qwenq8Lossless", "qwenq8.lossless.plan.json"), // qwen2 biases after integer products and in a merged F32 layer
        ],
        // SpecializedInferWeightCopyLimit = 0: the weights are read from the file mapping.
        ["Mapped"] =
        [
            ("OddhExithead", "oddh.exithead.plan.json"), // exit heads bound at load
            ("MhaFull", "mha.full.plan.json"),
            ("S260Merge", "s260.merge.plan.json"),    // merged layers computed by the engine's constructor
            ("QwenExits", "qwen.exits.plan.json"),    // qwen2's biases bound from the mapping
        ],
        // Encoders (architecture: bert), from EncoderPlans/: the full model, and pruning, sharing and exits together.
        ["Encoders"] =
        [
            ("MiniLmFull", "minilm.full.plan.json"),
            ("MiniLmExit", "minilm.exit.plan.json"),
        ],
    };

    private static readonly string[] RunNames = ["Demo", "Plans", "Quantized", "Mapped", "Encoders"];

    public static TheoryData<string> Runs => new(RunNames);

    private static bool Update => Environment.GetEnvironmentVariable("SPECIALIZEDINFER_UPDATE_BASELINES") == "1";

    /// <summary>One run's engine classes, AdditionalFiles and MSBuild properties.</summary>
    private static (string Source, List<AdditionalText> Texts, Dictionary<string, string>? Properties) Inputs(string run)
    {
        if (run == "Demo") return (Source, GeneratorHarness.ModelFiles(), null);
        var folder = run == "Encoders" ? "EncoderPlans" : "Plans";
        var source = $"namespace {run};\n" +
                     string.Join("\n", PlanRuns[run].Select(e => $"[SpecializedInfer.SpecializedEngine(\"{folder}/{e.Plan}\")] public partial class {e.Class};"));
        var texts = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, folder), "*.json").Order(StringComparer.Ordinal)
            .Select(f => (AdditionalText)new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/{folder}/{Path.GetFileName(f)}", File.ReadAllText(f)))
            .ToList();
        return (source, texts, run == "Mapped" ? new() { ["SpecializedInferWeightCopyLimit"] = "0" } : null);
    }

    /// <summary>The generator's own sources: the EmbeddedAttribute definition it asks for is the compiler's text.</summary>
    private static bool IsOurs(string hintName) => !hintName.StartsWith("Microsoft.CodeAnalysis.", StringComparison.Ordinal);

    /// <summary>Runs the generator for one set of engines (that they compile cleanly is the warning-level test's check).</summary>
    private static List<GeneratedSourceResult> Generate(string run)
    {
        var (source, texts, properties) = Inputs(run);
        var result = GeneratorHarness.Driver(texts, msbuildProperties: properties).RunGenerators(GeneratorHarness.Compilation(source)).GetRunResult();
        Assert.Empty(result.Diagnostics);
        return result.Results.Single().GeneratedSources.Where(s => IsOurs(s.HintName)).ToList();
    }

    [Theory]
    [MemberData(nameof(Runs))]
    public void Generated_sources_match_the_baselines(string run)
    {
        var sources = Generate(run);
        Assert.Contains(sources, s => s.HintName.EndsWith(".Kernels.g.cs", StringComparison.Ordinal));
        foreach (var source in sources)
        {
            var hintName = source.HintName;
            var generated = source.SourceText.ToString();
            var path = Path.Combine(GeneratorHarness.TestFolder(), "Baselines", hintName);
            if (Update)
            {
                File.WriteAllText(path, generated);
                Console.WriteLine($"Baseline rewritten: {path}");
                continue;
            }
            Assert.True(File.Exists(path), $"No baseline {path}; run with SPECIALIZEDINFER_UPDATE_BASELINES=1 to write it.");
            var expected = File.ReadAllText(path).ReplaceLineEndings("\n");
            if (expected != generated)
            {
                var e = expected.Split('\n');
                var g = generated.Split('\n');
                var line = Enumerable.Range(0, Math.Min(e.Length, g.Length)).FirstOrDefault(i => e[i] != g[i], Math.Min(e.Length, g.Length));
                Assert.Fail($"{hintName} differs from its baseline at line {line + 1}:\n  baseline:  {(line < e.Length ? e[line] : "(end)")}\n  generated: {(line < g.Length ? g[line] : "(end)")}\n" +
                            "Set SPECIALIZEDINFER_UPDATE_BASELINES=1 to accept the new output.");
            }
        }
    }

    [Fact]
    public void Every_baseline_is_generated_by_some_run()
    {
        var generated = RunNames.SelectMany(r => Generate(r).Select(s => s.HintName)).ToHashSet(StringComparer.Ordinal);
        var stale = Directory.GetFiles(Path.Combine(GeneratorHarness.TestFolder(), "Baselines")).Select(f => Path.GetFileName(f)).Where(f => !generated.Contains(f)).ToList();
        Assert.True(stale.Count == 0, $"Baselines no run generates any more (delete them): {string.Join(", ", stale)}");
    }

    [Theory]
    [MemberData(nameof(Runs))]
    public void Generated_code_is_clean_at_the_highest_warning_level_with_documentation_checks(string run)
    {
        // A consumer may build with GenerateDocumentationFile and every warning on: the engines must not add any.
        var (source, texts, properties) = Inputs(run);
        var parse = new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose);
        var compilation = CSharpCompilation.Create("Docs", [CSharpSyntaxTree.ParseText(source, parse, path: "/project/Engines.cs")],
            GeneratorHarness.References, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable, warningLevel: 9999));
        var options = properties is null ? null : new TestOptionsProvider(properties.ToDictionary(p => "build_property." + p.Key, p => p.Value));
        CSharpGeneratorDriver.Create([GeneratorHarness.CreateGenerator().AsSourceGenerator()], texts, parse, options)
            .RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        Assert.Contains(output.SyntaxTrees, t => t.FilePath.EndsWith(".Kernels.g.cs", StringComparison.Ordinal));
        var problems = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(10)));
    }

    [Fact]
    public void Engines_in_a_project_that_sees_another_projects_internals_do_not_clash_with_its_engines()
    {
        // Every project with engines gets the internal VectorMath; [Embedded] hides one project's copy from another
        // that sees its internals (InternalsVisibleTo), which would otherwise find the type twice (CS0436).
        var library = GeneratorHarness.Compilation("[assembly: System.Runtime.CompilerServices.InternalsVisibleTo(\"GeneratedEngines\")]\n" + Source)
            .WithAssemblyName("EnginesLibrary");
        var (libraryOutput, _, _) = GeneratorHarness.Run(library, GeneratorHarness.ModelFiles());
        Assert.Empty(GeneratorHarness.Problems(libraryOutput));
        var app = GeneratorHarness.Compilation(Source.Replace("namespace Demo;", "namespace App;"))
            .AddReferences(libraryOutput.ToMetadataReference());
        var (appOutput, diagnostics, result) = GeneratorHarness.Run(app, GeneratorHarness.ModelFiles());
        Assert.Empty(diagnostics);
        Assert.Equal(2, GeneratorHarness.EngineTrees(result).Count);
        var problems = GeneratorHarness.Problems(appOutput);
        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(10)));
    }

    [Fact]
    public void A_project_without_engines_gets_no_source_of_ours()
    {
        var (_, diagnostics, result) = GeneratorHarness.Run(GeneratorHarness.Compilation("namespace Plain; public class NoEngine;"), GeneratorHarness.ModelFiles());
        Assert.Empty(diagnostics);
        Assert.All(result.GeneratedTrees, t => Assert.False(IsOurs(Path.GetFileName(t.FilePath)), t.FilePath));
    }

    [Fact]
    public void Output_is_deterministic_and_self_describing()
    {
        List<(string Path, string Text)> Generate() =>
            GeneratorHarness.Run(GeneratorHarness.Compilation(Source), GeneratorHarness.ModelFiles()).Result.GeneratedTrees
                .Where(t => IsOurs(Path.GetFileName(t.FilePath))).Select(t => (t.FilePath, t.ToString())).ToList();
        var first = Generate();
        Assert.Equal(first, Generate());
        Assert.Equal(5, first.Count); // two engines, their kernels, the shared helpers
        Assert.All(first, file =>
        {
            Assert.StartsWith("// <auto-generated/>\n", file.Text);
            Assert.Contains("\n#nullable enable\n", file.Text);
            Assert.Contains("[global::System.CodeDom.Compiler.GeneratedCode(\"SpecializedInfer.Generators\", ", file.Text);
            Assert.DoesNotContain("\r", file.Text);
        });
    }
}
