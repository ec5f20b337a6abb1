using Microsoft.CodeAnalysis;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// One case per diagnostic ID the generator reports, each asserting the ID, the severity and the exact line and
/// column inside the file at fault (the JSON file for plan and manifest problems, the C# file for class problems).
/// </summary>
public sealed class DiagnosticTests
{
    private const string PlanPath = GeneratorHarness.ProjectRoot + "/Plans/p.plan.json";
    private const string ManifestPath = GeneratorHarness.ProjectRoot + "/Plans/m.model.json";
    private const string Engine = """
        namespace Demo;

        [SpecializedInfer.SpecializedEngine("Plans/p.plan.json")]
        public partial class Engine;
        """;

    private const string Manifest = """
        {
          "name": "m",
          "architecture": "llama",
          "dim": 64, "hiddenDim": 176, "layers": 5, "heads": 8, "kvHeads": 4,
          "normEps": 1e-05, "vocabSize": 512, "contextLength": 2048
        }
        """;

    private const string ValidPlan = "{\n  \"manifest\": \"m.model.json\"\n}";

    private static string Plan(string body) => "{\n  \"manifest\": \"m.model.json\",\n  " + body + "\n}";

    public static TheoryData<string, string, string, string, int, string> Cases => new()
    {
        // id, severity, file at fault ("plan"/"manifest"), its text, which occurrence of the marker, marker (where the diagnostic starts)
        { "SI0001", "Error", "plan", "{\n  \"manifest\": \"m.model.json\",\n}", 0, "}" },
        { "SI0002", "Error", "plan", Plan("\"prun\": [3]"), 0, "\"prun\"" },
        { "SI0003", "Error", "plan", "{\n  \"prune\": [1]\n}", 0, "{" },
        { "SI0004", "Error", "plan", Plan("\"decodeDepth\": \"3\""), 0, "\"3\"" },
        { "SI0005", "Error", "plan", "{\n  \"manifest\": \"missing.model.json\"\n}", 0, "\"missing.model.json\"" },
        { "SI0009", "Error", "plan", Plan("\"prune\": [7]"), 0, "7" },
        { "SI0010", "Error", "plan", Plan("\"prune\": [1, 1]"), 0, "1]" },
        { "SI0011", "Error", "plan", Plan("\"prune\": [-1]"), 0, "-1" },
        { "SI0012", "Error", "plan", Plan("\"prune\": [0, 1, 2, 3, 4]"), 0, "[0" },
        { "SI0013", "Error", "plan", Plan("\"prune\": [3],\n  \"order\": [0, 3]"), 1, "3]" },
        { "SI0014", "Error", "plan", Plan("\"share\": [ { \"layer\": 4, \"weightsOf\": 2 }, { \"layer\": 2, \"weightsOf\": 1 } ]"), 0, "{ \"layer\": 4" },
        { "SI0016", "Error", "plan", Plan("\"order\": []"), 0, "[]" },
        { "SI0017", "Error", "plan", Plan("\"decodeDepth\": 9"), 0, "9" },
        { "SI0018", "Error", "plan", Plan("\"exits\": [ { \"afterStep\": 4, \"criterion\": \"maxProbability\", \"threshold\": 0.5 } ]"), 0, "4," },
        { "SI0019", "Error", "plan", Plan("\"exits\": [\n    { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.5 },\n    { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.7 }\n  ]"), 1, "1, \"criterion\"" },
        { "SI0020", "Warning", "plan", Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 1.5 } ]"), 0, "1.5" },
        { "SI0020", "Error", "plan", Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": -0.5 } ]"), 0, "-0.5" },
        { "SI0033", "Error", "plan", Plan("\"kvFill\": \"zero\""), 0, "\"zero\"" },
        { "SI0024", "Error", "manifest", Manifest.Replace("\"heads\": 8", "\"heads\": 7"), 0, "7," },
        { "SI0025", "Error", "manifest", Manifest.Replace("\"kvHeads\": 4", "\"kvHeads\": 3"), 0, "3," },
        { "SI0026", "Error", "manifest", Manifest.Replace("\"kvHeads\": 4,", "\"kvHeads\": 4, \"headDim\": 9,"), 0, "9" },
        { "SI0027", "Error", "manifest", Manifest.Replace("\"kvHeads\": 4,", "\"kvHeads\": 4, \"rotaryDims\": 7,"), 0, "7," },
        { "SI0028", "Error", "manifest", Manifest.Replace("1e-05", "2"), 0, "2, \"vocabSize\"" },
        { "SI0029", "Info", "manifest", Manifest.Replace("176", "172"), 0, "172" },
        { "SI0032", "Error", "manifest", Manifest.Replace("\"llama\"", "\"bert\""), 0, "\"bert\"" },
        // Generator-side limits, reported as SI0028 too: a tensor past int indexing, a schedule past 1024 steps.
        { "SI0028", "Error", "manifest", Manifest.Replace("\"dim\": 64", "\"dim\": 65536").Replace("512", "65536"), 1, "65536" },
        { "SI0028", "Error", "manifest", Manifest.Replace("\"layers\": 5", "\"layers\": 2000"), 0, "2000" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Problem_is_reported_at_its_line_and_column(string id, string severity, string file, string text, int occurrence, string marker)
    {
        var plan = file == "plan" ? text : ValidPlan;
        var manifest = file == "manifest" ? text : Manifest;
        var diagnostics = Run(Engine, (PlanPath, plan), (ManifestPath, manifest));
        var (line, column) = Position(text, marker, occurrence);
        var path = file == "plan" ? PlanPath : ManifestPath;
        var found = diagnostics.Where(d => d.Id == id && d.Severity.ToString() == severity).ToList();
        Assert.True(found.Count > 0, $"no {severity} {id}; got: {string.Join("; ", diagnostics)}");
        Assert.Contains(found, d =>
        {
            var span = d.Location.GetLineSpan();
            return span.Path == path && span.StartLinePosition.Line + 1 == line && span.StartLinePosition.Character + 1 == column;
        });
        var descriptor = found[0].Descriptor;
        Assert.Equal("SpecializedInfer", descriptor.Category);
        Assert.Equal($"https://github.com/specializedinfer/specializedinfer/blob/main/docs/diagnostics.md#{id.ToLowerInvariant()}", descriptor.HelpLinkUri);
        if (severity == "Error") Assert.DoesNotContain(diagnostics, d => d.Id.StartsWith("CS", StringComparison.Ordinal) && d.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void SI0006_plan_file_not_among_additional_files()
    {
        const string source = "namespace Demo;\n\n[SpecializedInfer.SpecializedEngine(\"Plans/nope.plan.json\")]\npublic partial class Engine;\n";
        var d = Assert.Single(Run(source, (PlanPath, ValidPlan), (ManifestPath, Manifest)), d => d.Id == "SI0006");
        AssertAt(d, source, "\"Plans/nope.plan.json\"");
        Assert.Contains("AdditionalFiles", d.GetMessage());
    }

    [Fact]
    public void SI0007_two_attributes_on_one_class()
    {
        const string source = """
            namespace Demo;

            [SpecializedInfer.SpecializedEngine("Plans/p.plan.json")]
            public partial class Engine;

            [SpecializedInfer.SpecializedEngine("Plans/p.plan.json")]
            public partial class Engine;
            """;
        var all = Run(source, (PlanPath, ValidPlan), (ManifestPath, Manifest));
        var found = all.Where(d => d.Id == "SI0007").ToList();
        Assert.Equal(2, found.Count);
        AssertAt(found.OrderBy(d => d.Location.SourceSpan.Start).First(), source, "\"Plans/p.plan.json\"");
        Assert.DoesNotContain(all, d => d.Id == "SI0006");
    }

    [Theory]
    [InlineData("public class Engine;", "Engine")]
    [InlineData("public partial class Engine<T>;", "Engine")]
    [InlineData("public static partial class Engine;", "Engine")]
    [InlineData("public abstract partial class Engine;", "Engine")]
    [InlineData("public partial record Engine;", "Engine")]
    [InlineData("public class Outer { [SpecializedInfer.SpecializedEngine(\"Plans/p.plan.json\")] public partial class Engine; }", "Engine")]
    public void SI0008_class_that_cannot_hold_an_engine(string declaration, string marker)
    {
        var source = declaration.Contains("Outer")
            ? $"namespace Demo;\n\n{declaration}\n"
            : $"namespace Demo;\n\n[SpecializedInfer.SpecializedEngine(\"Plans/p.plan.json\")]\n{declaration}\n";
        var all = Run(source, (PlanPath, ValidPlan), (ManifestPath, Manifest));
        var d = Assert.Single(all, d => d.Id == "SI0008");
        AssertAt(d, source, marker, last: true); // the class name, after the attribute's "SpecializedEngine"
        Assert.DoesNotContain(all, x => x.Id == "SI0006");
    }

    [Fact]
    public void Nested_in_partial_types_is_fine_and_a_valid_plan_reports_nothing()
    {
        const string source = """
            namespace Demo;

            public partial class Outer
            {
                public partial struct Inner
                {
                    [SpecializedInfer.SpecializedEngine("Plans/p.plan.json")]
                    public partial class Engine;
                }
            }
            """;
        var (output, diagnostics, result) = GeneratorHarness.Run(GeneratorHarness.Compilation(source),
            [new InMemoryAdditionalText(PlanPath, ValidPlan), new InMemoryAdditionalText(ManifestPath, Manifest)]);
        Assert.Empty(diagnostics);
        Assert.Equal("Demo.Outer.Inner.Engine.g.cs", Path.GetFileName(Assert.Single(result.GeneratedTrees).FilePath));
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void Every_problem_id_of_the_planning_layer_has_a_descriptor_listed_in_the_release_file()
    {
        var ids = typeof(SpecializedInfer.Planning.ProblemIds).GetFields().Select(f => (string)f.GetRawConstantValue()!).ToList();
        var descriptors = GeneratorHarness.GeneratorAssembly.GetType("SpecializedInfer.Generators.DiagnosticDescriptors")!
            .GetFields().Where(f => f.FieldType == typeof(DiagnosticDescriptor)).Select(f => (DiagnosticDescriptor)f.GetValue(null)!).ToList();
        Assert.Equal(ids.Order(), descriptors.Select(d => d.Id).Order());
        var unshipped = File.ReadAllText(Path.Combine(GeneratorHarness.RepositoryRoot, "generators", "SpecializedInfer.Generators", "AnalyzerReleases.Unshipped.md"));
        Assert.All(descriptors, d => Assert.Contains($"{d.Id} | SpecializedInfer | {d.DefaultSeverity}", unshipped));
    }

    private static List<Diagnostic> Run(string source, params (string Path, string Text)[] files)
    {
        var (_, diagnostics, result) = GeneratorHarness.Run(GeneratorHarness.Compilation(source),
            files.Select(f => (AdditionalText)new InMemoryAdditionalText(f.Path, f.Text)));
        Assert.All(result.Results, r => Assert.Null(r.Exception));
        Assert.DoesNotContain(diagnostics, d => d.Id is "CS8784" or "CS8785");
        if (diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error)) Assert.Empty(result.GeneratedTrees);
        return diagnostics.ToList();
    }

    private static int CountOf(string text, string marker)
    {
        var n = 0;
        for (var i = text.IndexOf(marker, StringComparison.Ordinal); i >= 0; i = text.IndexOf(marker, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    private static (int Line, int Column) Position(string text, string marker, int occurrence)
    {
        var index = -1;
        for (var i = 0; i <= occurrence; i++)
        {
            index = text.IndexOf(marker, index + 1, StringComparison.Ordinal);
            Assert.True(index >= 0, $"marker '{marker}' #{occurrence} not in the text");
        }
        var before = text[..index];
        return (before.Count(c => c == '\n') + 1, index - (before.LastIndexOf('\n') + 1) + 1);
    }

    private static void AssertAt(Diagnostic d, string source, string marker, bool last = false)
    {
        var (line, column) = Position(source, marker, last ? CountOf(source, marker) - 1 : 0);
        var span = d.Location.GetLineSpan();
        Assert.EndsWith(".cs", span.Path);
        Assert.Equal((line, column), (span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1));
    }
}
