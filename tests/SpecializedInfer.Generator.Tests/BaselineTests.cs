using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// The generated source is checked in under Baselines/ so a change to the emitter shows up as a readable diff: the
/// two plans in models/, one engine per kind of plan under Plans/ (skips, exits, recompute, lossless, exit heads,
/// learned probes, odd and large shapes), and engines that read the file mapping instead of an aligned copy.
/// SPECIALIZEDINFER_UPDATE_BASELINES=1 rewrites the baselines instead of comparing.
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
            ("S260Learnedexit", "s260.learnedexit.plan.json"), // learned-probe exits
            ("OddLossless", "odd.lossless.plan.json"),         // odd shapes: tails of every width, padded rows; entropy drafts
            ("MhaFull", "mha.full.plan.json"),                 // long heads, x not register-resident, prefetching kernels
        ],
        // SpecializedInferWeightCopyLimit = 0: the weights are read from the file mapping.
        ["Mapped"] =
        [
            ("OddhExithead", "oddh.exithead.plan.json"), // exit heads bound at load
            ("MhaFull", "mha.full.plan.json"),
        ],
    };

    private static bool Update => Environment.GetEnvironmentVariable("SPECIALIZEDINFER_UPDATE_BASELINES") == "1";

    private static readonly string[] RunNames = ["Demo", "Plans", "Mapped"];

    public static TheoryData<string> Runs => new(RunNames);

    /// <summary>Runs the generator for one set of engines; returns its generated sources by hint name.</summary>
    private static List<GeneratedSourceResult> Generate(string run)
    {
        CSharpCompilation compilation;
        IEnumerable<AdditionalText> texts;
        Dictionary<string, string>? properties = null;
        if (run == "Demo")
        {
            compilation = GeneratorHarness.Compilation(Source);
            texts = GeneratorHarness.ModelFiles();
        }
        else
        {
            var engines = PlanRuns[run];
            compilation = GeneratorHarness.Compilation($"namespace {run};\n" +
                string.Join("\n", engines.Select(e => $"[SpecializedInfer.SpecializedEngine(\"Plans/{e.Plan}\")] public partial class {e.Class};")));
            texts = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Plans"), "*.json").Order(StringComparer.Ordinal)
                .Select(f => (AdditionalText)new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/Plans/{Path.GetFileName(f)}", File.ReadAllText(f)));
            if (run == "Mapped") properties = new() { ["SpecializedInferWeightCopyLimit"] = "0" };
        }
        var (output, diagnostics, result) = GeneratorHarness.Run(compilation, texts, properties);
        Assert.DoesNotContain(diagnostics, d => d.Severity >= DiagnosticSeverity.Warning);
        Assert.Empty(GeneratorHarness.Problems(output));
        return [.. result.Results.Single().GeneratedSources];
    }

    [Theory]
    [MemberData(nameof(Runs))]
    public void Generated_sources_match_the_baselines(string run)
    {
        var sources = Generate(run);
        Assert.NotEmpty(sources);
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
        var stale = Directory.GetFiles(Path.Combine(GeneratorHarness.TestFolder(), "Baselines")).Select(Path.GetFileName).Where(f => !generated.Contains(f!)).ToList();
        Assert.True(stale.Count == 0, $"Baselines no run generates any more (delete them): {string.Join(", ", stale)}");
    }

    [Fact]
    public void Generated_code_is_clean_at_the_highest_warning_level_with_documentation_checks()
    {
        // A consumer may build with GenerateDocumentationFile and every warning on: the engines must not add any.
        var parse = new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose);
        var compilation = CSharpCompilation.Create("Docs", [CSharpSyntaxTree.ParseText(Source, parse, path: "/project/Engines.cs")],
            GeneratorHarness.References, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable, warningLevel: 9999));
        CSharpGeneratorDriver.Create([GeneratorHarness.CreateGenerator().AsSourceGenerator()], GeneratorHarness.ModelFiles(), parse)
            .RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        var inGenerated = output.GetDiagnostics()
            .Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true)
            .ToList();
        Assert.True(inGenerated.Count == 0, string.Join("\n", inGenerated.Take(10)));
    }

    [Fact]
    public void Output_is_deterministic_and_self_describing()
    {
        string Generate() => string.Join("\n", GeneratorHarness.Run(GeneratorHarness.Compilation(Source), GeneratorHarness.ModelFiles())
            .Result.GeneratedTrees.Select(t => t.FilePath + "\n" + t));
        var first = Generate();
        Assert.Equal(first, Generate());
        Assert.StartsWith("// <auto-generated/>", first.Split('\n')[1]);
        Assert.Contains("#nullable enable", first);
        Assert.Contains("[global::System.CodeDom.Compiler.GeneratedCode(\"SpecializedInfer.Generators\", ", first);
        Assert.DoesNotContain("\r", first);
    }
}
