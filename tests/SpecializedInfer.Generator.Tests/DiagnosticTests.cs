using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// One case per diagnostic ID, each asserting the ID, the severity and the exact line and column inside the file
/// at fault (the JSON file for plan, manifest and probe problems, the C# file for class problems). Diagnostics
/// come from the analyzer; every case also runs the generator, which must report nothing, throw nothing, and emit
/// no engine when the analyzer reports an error.
/// </summary>
public sealed class DiagnosticTests
{
    private const string PlanPath = GeneratorHarness.ProjectRoot + "/Plans/p.plan.json";
    private const string ManifestPath = GeneratorHarness.ProjectRoot + "/Plans/m.model.json";
    private const string ProbePath = GeneratorHarness.ProjectRoot + "/Plans/e1.probe.json";
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

    /// <summary>An encoder's manifest: its plans may not decide per generated token ("encoderplan" cases).</summary>
    private const string EncoderManifest = """
        {
          "name": "m",
          "architecture": "bert",
          "dim": 64, "hiddenDim": 256, "layers": 5, "heads": 8,
          "normEps": 1e-12, "vocabSize": 512, "contextLength": 512
        }
        """;

    private const string ValidPlan = "{\n  \"manifest\": \"m.model.json\"\n}";

    private static string Plan(string body) => "{\n  \"manifest\": \"m.model.json\",\n  " + body + "\n}";

    private const string LearnedExit = "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"learned\", \"threshold\": 0.5, \"probe\": \"e1.probe.json\" } ]";

    /// <summary>A calibration record as si calibrate writes it, on one exit.</summary>
    private const string Calibrated = "\"exits\": [ { \"afterStep\": 2, \"criterion\": \"maxProbability\", \"threshold\": 0.9 } ],\n  \"calibration\": {\n" +
        "    \"method\": \"learn-then-test\", \"targetAgreement\": 0.99, \"delta\": 0.05, \"tokens\": 1000, \"disagreements\": 5,\n" +
        "    \"agreement\": 0.995, \"pValue\": 0.01, \"strictness\": 0.9, \"gridSteps\": 200, \"tokensPerPrompt\": 256,\n" +
        "    \"model\": { \"file\": \"m.gguf\", \"sha256\": \"" + Sha + "\" },\n" +
        "    \"data\": [ { \"file\": \"cal.txt\", \"sha256\": \"" + Sha + "\" } ]\n  }";

    private const string Sha = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

    public static TheoryData<string, string, string, string, int, string> Cases => new()
    {
        // id, severity, file at fault ("plan"/"manifest"/"probe"), its text, which occurrence of the marker, marker (where the diagnostic starts)
        { "SI0001", "Error", "plan", "{\n  \"manifest\": \"m.model.json\",\n}", 0, "}" },
        { "SI0001", "Error", "manifest", Manifest.Replace("\"dim\": 64,", "\"dim\": 64,,"), 0, ", \"hiddenDim\"" },
        { "SI0002", "Error", "plan", Plan("\"prun\": [3]"), 0, "\"prun\"" },
        { "SI0003", "Error", "plan", "{\n  \"prune\": [1]\n}", 0, "{" },
        { "SI0004", "Error", "plan", Plan("\"decodeDepth\": \"3\""), 0, "\"3\"" },
        { "SI0005", "Error", "plan", "{\n  \"manifest\": \"missing.model.json\"\n}", 0, "\"missing.model.json\"" },
        { "SI0009", "Error", "plan", Plan("\"prune\": [7]"), 0, "7" },
        { "SI0010", "Error", "plan", Plan("\"prune\": [1, 1]"), 0, "1]" },
        { "SI0011", "Error", "plan", Plan("\"prune\": [-1]"), 0, "-1" },
        { "SI0012", "Error", "plan", Plan("\"prune\": [0, 1, 2, 3, 4]"), 0, "[0" },
        { "SI0013", "Error", "plan", Plan("\"prune\": [3],\n  \"order\": [0, 3]"), 1, "3]" },
        { "SI0013", "Error", "plan", Plan("\"prune\": [3],\n  \"share\": [ { \"layer\": 4, \"weightsOf\": 3 } ]"), 0, "3 }" },
        { "SI0013", "Error", "plan", Plan("\"prune\": [2],\n  \"skip\": [ { \"layer\": 2, \"test\": \"cosine\", \"threshold\": 0.9 } ]"), 0, "2, \"test\"" },
        { "SI0014", "Error", "plan", Plan("\"share\": [ { \"layer\": 4, \"weightsOf\": 2 }, { \"layer\": 2, \"weightsOf\": 1 } ]"), 0, "{ \"layer\": 4" },
        { "SI0014", "Error", "plan", Plan("\"share\": [ { \"layer\": 2, \"weightsOf\": 2 } ]"), 0, "{ \"layer\": 2" },
        { "SI0016", "Error", "plan", Plan("\"order\": []"), 0, "[]" },
        { "SI0017", "Error", "plan", Plan("\"decodeDepth\": 9"), 0, "9" },
        { "SI0017", "Error", "plan", Plan("\"decodeDepth\": 0"), 0, "0" },
        { "SI0018", "Error", "plan", Plan("\"exits\": [ { \"afterStep\": 4, \"criterion\": \"maxProbability\", \"threshold\": 0.5 } ]"), 0, "4," },
        { "SI0019", "Error", "plan", Plan("\"exits\": [\n    { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.5 },\n    { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.7 }\n  ]"), 1, "1, \"criterion\"" },
        { "SI0020", "Warning", "plan", Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 1.5 } ]"), 0, "1.5" },
        { "SI0020", "Error", "plan", Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": -0.5 } ]"), 0, "-0.5" },
        { "SI0021", "Error", "plan", Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"patience\", \"patience\": 3 } ]"), 0, "3 }" },
        { "SI0022", "Error", "plan", Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"ensemble\", \"votes\": 3, \"members\": [\n    { \"criterion\": \"maxProbability\", \"threshold\": 0.5 }, { \"criterion\": \"margin\", \"threshold\": 0.3 } ] } ]"), 0, "3," },
        { "SI0023", "Error", "plan", Plan(LearnedExit.Replace("e1.probe.json", "nope.probe.json")), 0, "\"nope.probe.json\"" },
        { "SI0024", "Error", "manifest", Manifest.Replace("\"heads\": 8", "\"heads\": 7"), 0, "7," },
        { "SI0025", "Error", "manifest", Manifest.Replace("\"kvHeads\": 4", "\"kvHeads\": 3"), 0, "3," },
        { "SI0026", "Error", "manifest", Manifest.Replace("\"kvHeads\": 4,", "\"kvHeads\": 4, \"headDim\": 200000,"), 0, "200000" },
        { "SI0027", "Error", "manifest", Manifest.Replace("\"kvHeads\": 4,", "\"kvHeads\": 4, \"rotaryDims\": 7,"), 0, "7," },
        { "SI0028", "Error", "manifest", Manifest.Replace("1e-05", "2"), 0, "2, \"vocabSize\"" },
        { "SI0028", "Error", "manifest", Manifest.Replace("512", "0"), 0, "0, \"contextLength\"" },
        { "SI0028", "Error", "manifest", Manifest.Replace("2048", "0"), 0, "0\n" },
        { "SI0029", "Info", "manifest", Manifest.Replace("176", "172"), 0, "172" },
        { "SI0043", "Error", "manifest", Manifest.Replace("2048", "2048, \"weightType\": \"q8_0\""), 0, "176" },
        { "SI0032", "Error", "manifest", Manifest.Replace("\"llama\"", "\"phi3\""), 0, "\"phi3\"" },
        // What does not apply to an encoder, at the plan property (a bert manifest); and an encoder's criterion on a decoder.
        { "SI0032", "Error", "encoderplan", Plan("\"skip\": [ { \"layer\": 1, \"test\": \"cosine\", \"threshold\": 0.9 } ]"), 0, "\"skip\"" },
        { "SI0032", "Error", "encoderplan", Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.9 } ]"), 0, "\"exits\"" },
        { "SI0032", "Error", "encoderplan", Plan("\"decodeDepth\": 3"), 0, "\"decodeDepth\"" },
        { "SI0032", "Error", "encoderplan", Plan("\"merge\": [ { \"layers\": [1, 2] } ]"), 0, "\"merge\"" },
        { "SI0032", "Error", "plan", Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"embeddingCosine\", \"threshold\": 0.9 } ]"), 0, "\"embeddingCosine\"" },
        { "SI0033", "Error", "plan", Plan("\"kvFill\": \"zero\""), 0, "\"zero\"" },
        { "SI0034", "Error", "probe", "{\n  \"dim\": 64, \"bias\": 0,\n  \"weights\": [1, 2]\n}", 0, "[1, 2]" },
        { "SI0034", "Error", "probe", "{\n  \"dim\": 2, \"bias\": 0,\n  \"weights\": [1, 2]\n}", 0, "2, \"bias\"" },
        { "SI0035", "Error", "plan", Plan("\"skip\": [ { \"layer\": 0, \"test\": \"cosine\", \"threshold\": 0.9 } ]"), 0, "0, \"test\"" },
        { "SI0036", "Error", "plan", Plan("\"kvFill\": \"lossless\""), 0, "\"lossless\"" },
        { "SI0041", "Error", "plan", Plan("\"skipAttention\": [2],\n  \"skipFeedForward\": [2]"), 1, "2]" },
        { "SI0040", "Error", "plan", Plan("\"merge\": [ { \"layers\": [1, 3] } ]"), 0, "3]" },
        { "SI0042", "Error", "plan", Plan("\"weightType\": \"q4_0\""), 0, "\"q4_0\"" },
        { "SI0033", "Error", "manifest", Manifest.Replace("\"contextLength\": 2048", "\"contextLength\": 2048, \"weightType\": \"q9_0\""), 0, "\"q9_0\"" },
        // Generator-side limits, reported as SI0028 too: a tensor past int indexing, a schedule past 1024 steps.
        { "SI0028", "Error", "manifest", Manifest.Replace("\"dim\": 64", "\"dim\": 65536").Replace("512", "65536"), 1, "65536" },
        { "SI0028", "Error", "manifest", Manifest.Replace("\"layers\": 5", "\"layers\": 2000"), 0, "2000" },
        { "SI0028", "Error", "manifest", Manifest.Replace("\"layers\": 5", "\"layers\": 5000"), 0, "5000" },
        // 81 steps for 5 layers: one past 16 per layer (each step keeps its own KV cache).
        { "SI0037", "Error", "plan", Plan("\"order\": [" + string.Join(", ", Enumerable.Repeat(0, 81)) + "]"), 0, "[0" },
        { "SI0038", "Error", "plan", Plan(Calibrated.Replace("\"agreement\": 0.995", "\"agreement\": 0.9")), 0, "0.9, \"pValue\"" },
        { "SI0038", "Error", "plan", Plan(Calibrated.Replace("\"pValue\": 0.01", "\"pValue\": 0.2")), 0, "0.2" },
        { "SI0038", "Error", "plan", Plan(Calibrated.Replace("\"model\": { \"file\": \"m.gguf\", \"sha256\": \"" + Sha, "\"model\": { \"file\": \"m.gguf\", \"sha256\": \"" + Sha.ToUpperInvariant())), 0, "\"" + Sha.ToUpperInvariant() },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Problem_is_reported_at_its_line_and_column(string id, string severity, string file, string text, int occurrence, string marker)
    {
        var plan = file is "plan" or "encoderplan" ? text : file == "probe" ? Plan(LearnedExit) : ValidPlan;
        var manifest = file == "manifest" ? text : file == "encoderplan" ? EncoderManifest : Manifest;
        var files = new List<(string, string)> { (PlanPath, plan), (ManifestPath, manifest) };
        if (file == "probe") files.Add((ProbePath, text));
        var diagnostics = Run(Engine, [.. files]);
        var (line, column) = Position(text, marker, occurrence);
        var path = file switch { "plan" or "encoderplan" => PlanPath, "probe" => ProbePath, _ => ManifestPath };
        var found = diagnostics.Where(d => d.Id == id && d.Severity.ToString() == severity).ToList();
        Assert.True(found.Count > 0, $"no {severity} {id}; got: {string.Join("; ", diagnostics)}");
        Assert.Contains(found, d =>
        {
            var span = d.Location.GetLineSpan();
            return span.Path == path && span.StartLinePosition.Line + 1 == line && span.StartLinePosition.Character + 1 == column;
        });
        AssertDescriptor(found[0], id);
        Assert.All(found, d => Assert.False(string.IsNullOrWhiteSpace(d.GetMessage())));
    }

    [Fact]
    public void Messages_name_the_offending_value()
    {
        Assert.Contains(Run(Engine, (PlanPath, Plan("\"prun\": [3]")), (ManifestPath, Manifest)), d => d.Id == "SI0002" && d.GetMessage().Contains("'prun'") && d.GetMessage().Contains("did you mean 'prune'?"));
        Assert.Contains(Run(Engine, (PlanPath, Plan("\"prune\": [7]")), (ManifestPath, Manifest)), d => d.Id == "SI0009" && d.GetMessage().Contains("found 7"));
        Assert.Contains(Run(Engine, (PlanPath, ValidPlan), (ManifestPath, Manifest.Replace("\"heads\": 8", "\"heads\": 7"))), d => d.Id == "SI0024" && d.GetMessage().Contains("(7)"));
    }

    [Fact]
    public void SI0037_a_plan_file_over_the_size_limit_is_neither_copied_nor_parsed()
    {
        var huge = ValidPlan + new string(' ', SpecializedInfer.Planning.InputLimits.MaxFileBytes);
        var diagnostics = Run(Engine, (PlanPath, huge), (ManifestPath, Manifest));
        var d = Assert.Single(diagnostics, d => d.Id == "SI0037");
        Assert.Equal((PlanPath, 0, 0), (d.Location.GetLineSpan().Path, d.Location.GetLineSpan().StartLinePosition.Line, d.Location.GetLineSpan().StartLinePosition.Character));
        Assert.Contains("may be at most 4,194,304 bytes", d.GetMessage());
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
    }

    [Fact]
    public void A_calibration_record_is_accepted_without_any_diagnostic_and_changes_nothing_the_generator_emits()
    {
        var exit = Plan("\"exits\": [ { \"afterStep\": 2, \"criterion\": \"maxProbability\", \"threshold\": 0.9 } ]");
        var calibrated = Plan(Calibrated);
        string Ids(string plan) => string.Join(" ", Run(Engine, (PlanPath, plan), (ManifestPath, Manifest)).Select(d => $"{d.Id}:{d.Severity}").Order());
        Assert.Equal(Ids(exit), Ids(calibrated));
        Assert.DoesNotContain("Error", Ids(calibrated));
        string Emitted(string plan) => string.Join("\n", GeneratorHarness.Run(GeneratorHarness.Compilation(Engine),
            [new InMemoryAdditionalText(PlanPath, plan), new InMemoryAdditionalText(ManifestPath, Manifest)]).Result.GeneratedTrees.Select(t => t.ToString()));
        Assert.Contains("partial class Engine", Emitted(calibrated));
        Assert.Equal(Emitted(exit), Emitted(calibrated));
    }

    [Fact]
    public void SI0006_plan_file_not_among_additional_files()
    {
        const string source = "namespace Demo;\n\n[SpecializedInfer.SpecializedEngine(\"Plans/nope.plan.json\")]\npublic partial class Engine;\n";
        var d = Assert.Single(Run(source, (PlanPath, ValidPlan), (ManifestPath, Manifest)), d => d.Id == "SI0006");
        AssertAt(d, source, "\"Plans/nope.plan.json\"");
        Assert.Contains("'Plans/nope.plan.json'", d.GetMessage());
        AssertDescriptor(d, "SI0006");
    }

    [Fact]
    public void SI0007_two_attributes_on_one_class()
    {
        const string source = """
            namespace Demo;

            [SpecializedInfer.SpecializedEngine("Plans/p.plan.json")]
            public partial class Engine;

            [SpecializedInfer.SpecializedEngine("Plans/q.plan.json")]
            public partial class Engine;
            """;
        var all = Run(source, (PlanPath, ValidPlan), (ManifestPath, Manifest), (GeneratorHarness.ProjectRoot + "/Plans/q.plan.json", ValidPlan));
        var found = all.Where(d => d.Id == "SI0007").ToList();
        Assert.Equal(2, found.Count);
        AssertAt(found.OrderBy(d => d.Location.SourceSpan.Start).First(), source, "\"Plans/p.plan.json\"");
        Assert.DoesNotContain(all, d => d.Id == "SI0006");
        AssertDescriptor(found[0], "SI0007");
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
        AssertDescriptor(d, "SI0008");
    }

    [Fact]
    public void SI0008_can_be_suppressed_with_pragma()
    {
        const string source = "namespace Demo;\n\n#pragma warning disable SI0008\n[SpecializedInfer.SpecializedEngine(\"Plans/p.plan.json\")]\npublic class Engine;\n#pragma warning restore SI0008\n";
        var (diagnostics, exceptions) = GeneratorHarness.Analyze(GeneratorHarness.Compilation(source),
            [new InMemoryAdditionalText(PlanPath, ValidPlan), new InMemoryAdditionalText(ManifestPath, Manifest)]);
        Assert.Empty(exceptions);
        Assert.DoesNotContain(diagnostics, d => d.Id == "SI0008" && !d.IsSuppressed);
    }

    [Fact]
    public void A_json_diagnostic_follows_the_configured_severity()
    {
        // What csc builds from a .globalconfig (or an .editorconfig with is_global = true): "dotnet_diagnostic.SI0009.severity = none"
        // and "dotnet_diagnostic.SI0029.severity = warning". Diagnostics in AdditionalFiles take the global severities.
        var compilation = GeneratorHarness.Compilation(Engine);
        compilation = compilation.WithOptions(compilation.Options.WithSyntaxTreeOptionsProvider(
            new GlobalSeverities(new() { ["SI0009"] = ReportDiagnostic.Suppress, ["SI0029"] = ReportDiagnostic.Warn })));
        var (diagnostics, _) = GeneratorHarness.Analyze(compilation,
            [new InMemoryAdditionalText(PlanPath, Plan("\"prune\": [7]")), new InMemoryAdditionalText(ManifestPath, Manifest.Replace("176", "172"))]);
        Assert.DoesNotContain(diagnostics, d => d.Id == "SI0009");
        Assert.Contains(diagnostics, d => d.Id == "SI0029" && d.Severity == DiagnosticSeverity.Warning);
    }

    [Fact]
    public void SI0015_is_reserved_sharing_between_any_two_llama_layers_is_valid()
    {
        // Every layer of a LLaMA manifest has one shape, so a share can never mismatch: the plan gets its engine.
        var (output, generatorDiagnostics, result) = GeneratorHarness.Run(GeneratorHarness.Compilation(Engine),
            [new InMemoryAdditionalText(PlanPath, Plan("\"share\": [ { \"layer\": 4, \"weightsOf\": 0 } ]")), new InMemoryAdditionalText(ManifestPath, Manifest)]);
        Assert.Empty(generatorDiagnostics);
        Assert.Single(GeneratorHarness.EngineTrees(result));
        Assert.Empty(GeneratorHarness.Problems(output));
        var all = Run(Engine, (PlanPath, Plan("\"share\": [ { \"layer\": 4, \"weightsOf\": 0 } ]")), (ManifestPath, Manifest));
        Assert.DoesNotContain(all, d => d.Id == "SI0015");
        Assert.Equal(DiagnosticSeverity.Error, DescriptorOf("SI0015").DefaultSeverity);
    }

    [Fact]
    public void SI0030_exit_head_costing_more_than_the_layers_it_can_skip()
    {
        // dim 64 × vocab 1000 = 64,000 multiply-adds for the head; one layer after step 3 costs 46,080.
        var plan = Plan("\"exits\": [\n    { \"afterStep\": 0, \"criterion\": \"maxProbability\", \"threshold\": 0.9 },\n    { \"afterStep\": 3, \"criterion\": \"margin\", \"threshold\": 0.5 },\n    { \"afterStep\": 2, \"criterion\": \"stateSaturation\", \"threshold\": 0.5 }\n  ]");
        var all = Run(Engine, (PlanPath, plan), (ManifestPath, Manifest.Replace("512", "1000")));
        var d = Assert.Single(all, d => d.Id == "SI0030");
        Assert.Equal(DiagnosticSeverity.Info, d.Severity);
        var (line, column) = Position(plan, "3, \"criterion\"", 0);
        Assert.Equal((PlanPath, line, column), (d.Location.GetLineSpan().Path, d.Location.GetLineSpan().StartLinePosition.Line + 1, d.Location.GetLineSpan().StartLinePosition.Character + 1));
        Assert.Contains("64,000", d.GetMessage());
        AssertDescriptor(d, "SI0030");
        // The same plan on the 512-token vocabulary: 32,768 < 46,080, the exit can pay.
        Assert.DoesNotContain(Run(Engine, (PlanPath, plan), (ManifestPath, Manifest)), x => x.Id == "SI0030");
    }

    [Theory]
    [InlineData("true", null, true)]
    [InlineData("true", "x86-64-v3", true)]
    [InlineData("True", "avx2,bmi,bmi2", true)]
    [InlineData("true", "x86-64-v4", false)]
    [InlineData("true", "native", false)]
    [InlineData("true", "avx512f,avx512bw,avx512cd,avx512dq,avx512vl", false)]
    [InlineData("false", null, false)]
    [InlineData(null, "x86-64-v3", false)]
    public void SI0031_publish_aot_without_avx512(string? publishAot, string? instructionSet, bool expected)
    {
        var properties = new Dictionary<string, string>();
        if (publishAot is not null) properties["PublishAot"] = publishAot;
        if (instructionSet is not null) properties["IlcInstructionSet"] = instructionSet;
        var (diagnostics, exceptions) = GeneratorHarness.Analyze(GeneratorHarness.Compilation(Engine),
            [new InMemoryAdditionalText(PlanPath, ValidPlan), new InMemoryAdditionalText(ManifestPath, Manifest)], properties);
        Assert.Empty(exceptions);
        var found = diagnostics.Where(d => d.Id == "SI0031").ToList();
        Assert.Equal(expected ? 1 : 0, found.Count);
        if (!expected) return;
        Assert.Equal(Location.None, found[0].Location);
        Assert.Equal(DiagnosticSeverity.Warning, found[0].Severity);
        Assert.Contains(instructionSet ?? "not set", found[0].GetMessage());
        AssertDescriptor(found[0], "SI0031");
    }

    [Fact]
    public void SI0031_is_not_reported_for_a_project_without_plans()
    {
        var (diagnostics, _) = GeneratorHarness.Analyze(GeneratorHarness.Compilation("class C {}"), [], new Dictionary<string, string> { ["PublishAot"] = "true" });
        Assert.DoesNotContain(diagnostics, d => d.Id == "SI0031");
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
        var files = new AdditionalText[] { new InMemoryAdditionalText(PlanPath, ValidPlan), new InMemoryAdditionalText(ManifestPath, Manifest) };
        var (output, diagnostics, result) = GeneratorHarness.Run(GeneratorHarness.Compilation(source), files);
        Assert.Empty(diagnostics);
        Assert.Equal("Demo.Outer.Inner.Engine.g.cs", Path.GetFileName(Assert.Single(GeneratorHarness.EngineTrees(result)).FilePath));
        Assert.Contains(result.GeneratedTrees, t => Path.GetFileName(t.FilePath) == "Demo.Outer.Inner.Engine.Kernels.g.cs");
        Assert.Empty(GeneratorHarness.Problems(output));
        Assert.Empty(GeneratorHarness.Analyze(GeneratorHarness.Compilation(source), files).Diagnostics);
    }

    [Fact]
    public void A_manifest_error_is_reported_once_against_the_manifest_not_per_plan()
    {
        var broken = Manifest.Replace("\"kvHeads\": 4", "\"kvHeads\": 3");
        var one = Run(Engine, (PlanPath, ValidPlan), (ManifestPath, broken));
        var two = Run(Engine, (PlanPath, ValidPlan), (GeneratorHarness.ProjectRoot + "/Plans/q.plan.json", ValidPlan), (ManifestPath, broken));
        Assert.Equal("SI0025", Assert.Single(one).Id);
        Assert.Equal(one.Select(d => d.ToString()), two.Select(d => d.ToString()));
    }

    [Fact]
    public void Every_problem_id_of_the_planning_layer_has_a_descriptor_listed_in_the_release_file_and_the_docs()
    {
        var ids = typeof(SpecializedInfer.Planning.ProblemIds).GetFields().Select(f => (string)f.GetRawConstantValue()!).ToList();
        var descriptors = Descriptors();
        Assert.Equal(ids.Order(), descriptors.Select(d => d.Id).Order());
        Assert.Equal(ids.Order(), GeneratorHarness.CreateAnalyzer().SupportedDiagnostics.Select(d => d.Id).Order());
        var unshipped = File.ReadAllText(Path.Combine(GeneratorHarness.RepositoryRoot, "generators", "SpecializedInfer.Generators", "AnalyzerReleases.Unshipped.md"));
        var docs = File.ReadAllText(Path.Combine(GeneratorHarness.RepositoryRoot, "docs", "diagnostics.md"));
        Assert.All(descriptors, d =>
        {
            Assert.Contains($"{d.Id} | SpecializedInfer | {d.DefaultSeverity}", unshipped);
            Assert.Contains($"\n## {d.Id}", docs);
            Assert.False(string.IsNullOrWhiteSpace(d.Title.ToString()));
            Assert.False(string.IsNullOrWhiteSpace(d.Description.ToString()));
        });
    }

    private static List<DiagnosticDescriptor> Descriptors() =>
        GeneratorHarness.GeneratorAssembly.GetType("SpecializedInfer.Generators.DiagnosticDescriptors")!
            .GetFields().Where(f => f.FieldType == typeof(DiagnosticDescriptor)).Select(f => (DiagnosticDescriptor)f.GetValue(null)!).ToList();

    private static DiagnosticDescriptor DescriptorOf(string id) => Descriptors().Single(d => d.Id == id);

    private static void AssertDescriptor(Diagnostic d, string id)
    {
        Assert.Equal(id, d.Descriptor.Id);
        Assert.Equal("SpecializedInfer", d.Descriptor.Category);
        Assert.False(string.IsNullOrWhiteSpace(d.Descriptor.Title.ToString()));
        Assert.Equal($"https://github.com/specializedinfer/specializedinfer/blob/main/docs/diagnostics.md#{id.ToLowerInvariant()}", d.Descriptor.HelpLinkUri);
    }

    /// <summary>
    /// Runs the generator and the analyzer over the source and files: the generator must report nothing and throw
    /// nothing, and produce no engine when the analyzer reports an error (only, for a class that can hold one, the
    /// throwing surface); what it generates compiles without an error or warning either way. Returns the analyzer's diagnostics.
    /// </summary>
    internal static List<Diagnostic> Run(string source, params (string Path, string Text)[] files)
    {
        var texts = files.Select(f => (AdditionalText)new InMemoryAdditionalText(f.Path, f.Text)).ToList();
        var compilation = GeneratorHarness.Compilation(source);
        var (output, generatorDiagnostics, result) = GeneratorHarness.Run(compilation, texts);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Location.SourceTree is { } tree && result.GeneratedTrees.Contains(tree));
        Assert.All(result.Results, r => Assert.Null(r.Exception));
        Assert.Empty(generatorDiagnostics);
        var (diagnostics, exceptions) = GeneratorHarness.Analyze(compilation, texts);
        Assert.Empty(exceptions);
        Assert.All(diagnostics, d => Assert.StartsWith("SI", d.Id));
        if (diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error)) Assert.Empty(GeneratorHarness.EngineTrees(result));
        else Assert.NotEmpty(GeneratorHarness.EngineTrees(result));
        if (diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error && d.Id is not ("SI0007" or "SI0008")))
            Assert.NotEmpty(GeneratorHarness.UnavailableTrees(result));
        else Assert.Empty(GeneratorHarness.UnavailableTrees(result));
        return diagnostics.ToList();
    }

    private static int CountOf(string text, string marker)
    {
        var n = 0;
        for (var i = text.IndexOf(marker, StringComparison.Ordinal); i >= 0; i = text.IndexOf(marker, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    internal static (int Line, int Column) Position(string text, string marker, int occurrence)
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
        Assert.True(d.Location.IsInSource, "a C# diagnostic must have a source location, for #pragma");
        Assert.EndsWith(".cs", span.Path);
        Assert.Equal((line, column), (span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1));
    }

    /// <summary>Severities as csc takes them from a global analyzer config: per ID, for every file.</summary>
    private sealed class GlobalSeverities(Dictionary<string, ReportDiagnostic> severities) : SyntaxTreeOptionsProvider
    {
        public override GeneratedKind IsGenerated(SyntaxTree tree, CancellationToken cancellationToken) => GeneratedKind.Unknown;

        public override bool TryGetDiagnosticValue(SyntaxTree tree, string diagnosticId, CancellationToken cancellationToken, out ReportDiagnostic severity) =>
            severities.TryGetValue(diagnosticId, out severity);

        public override bool TryGetGlobalDiagnosticValue(string diagnosticId, CancellationToken cancellationToken, out ReportDiagnostic severity) =>
            severities.TryGetValue(diagnosticId, out severity);
    }
}
