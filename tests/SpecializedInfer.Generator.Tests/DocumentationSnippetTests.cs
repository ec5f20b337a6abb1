using System.Reflection;
using System.Runtime.Loader;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Support;
using SpecializedInfer.Testing;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Every C# block of the README and docs compiles as a user would build it: in a console project with the SDK's
/// implicit usings, the runtime and the generator, and the repository's models/ as AdditionalFiles. A block under a
/// diagnostic's heading in docs/diagnostics.md is that diagnostic's example: it must raise exactly that SI ID and
/// no compiler error. The README's program is also run: it prints the story the reference engine writes.
/// </summary>
public sealed partial class DocumentationSnippetTests
{
    /// <summary>What <c>&lt;ImplicitUsings&gt;enable&lt;/ImplicitUsings&gt;</c> gives a console project.</summary>
    private const string ImplicitUsings = """
        global using global::System;
        global using global::System.Collections.Generic;
        global using global::System.IO;
        global using global::System.Linq;
        global using global::System.Net.Http;
        global using global::System.Threading;
        global using global::System.Threading.Tasks;
        """;

    [GeneratedRegex(@"^```(?:csharp|cs)\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"^## (SI\d{4})\s*$", RegexOptions.Multiline)]
    private static partial Regex DiagnosticHeading();

    /// <param name="Section">The text of the diagnostic's section: compiler errors it names (CS0579 beside SI0007) are expected.</param>
    public sealed record Snippet(string File, int Line, string Code, string? DiagnosticId, string Section)
    {
        public override string ToString() => $"{File}:{Line}";
    }

    private static readonly string[] Pages =
        ["README.md", "docs", Path.Combine("generators", "SpecializedInfer.Generators", "README.md"), "examples"];

    public static List<Snippet> AllSnippets()
    {
        var files = new List<string>();
        foreach (var page in Pages)
        {
            var path = Path.Combine(GeneratorHarness.RepositoryRoot, page);
            if (File.Exists(path)) files.Add(path);
            else if (Directory.Exists(path))
                files.AddRange(Directory.EnumerateFiles(path, "*.md", SearchOption.AllDirectories)
                    .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                             && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)));
        }
        var snippets = new List<Snippet>();
        foreach (var file in files.OrderBy(f => f, StringComparer.Ordinal))
        {
            var text = File.ReadAllText(file).ReplaceLineEndings("\n");
            var headings = DiagnosticHeading().Matches(text);
            foreach (Match block in CSharpBlock().Matches(text))
            {
                var heading = headings.LastOrDefault(h => h.Index < block.Index);
                var id = heading is not null && !text[heading.Index..block.Index].Contains("\n## ", StringComparison.Ordinal) ? heading.Groups[1].Value : null;
                var line = text.AsSpan(0, block.Index).Count('\n') + 1;
                var sectionEnd = text.IndexOf("\n## ", block.Index, StringComparison.Ordinal);
                var section = id is null ? "" : text[heading!.Index..(sectionEnd < 0 ? text.Length : sectionEnd)];
                snippets.Add(new Snippet(Path.GetRelativePath(GeneratorHarness.RepositoryRoot, file).Replace('\\', '/'), line, block.Groups[1].Value, id, section));
            }
        }
        return snippets;
    }

    public static TheoryData<string> SnippetNames()
    {
        var data = new TheoryData<string>();
        foreach (var s in AllSnippets()) data.Add(s.ToString());
        return data;
    }

    [Fact]
    public void The_pages_have_csharp_blocks_to_check()
    {
        var snippets = AllSnippets();
        Assert.Contains(snippets, s => s.File == "README.md");
        Assert.Contains(snippets, s => s.DiagnosticId is not null);
    }

    [Theory]
    [MemberData(nameof(SnippetNames))]
    public void Every_csharp_block_compiles_as_a_user_builds_it(string name)
    {
        var snippet = AllSnippets().Single(s => s.ToString() == name);
        var (output, analyzerDiagnostics) = Build(snippet);
        var errors = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && !snippet.Section.Contains(d.Id, StringComparison.Ordinal)).ToList();
        var si = analyzerDiagnostics.Where(d => d.Id.StartsWith("SI", StringComparison.Ordinal) && d.Severity == DiagnosticSeverity.Error).Select(d => d.Id).Distinct().ToList();
        Assert.True(errors.Count == 0, $"{name} does not compile:\n{string.Join("\n", errors)}");
        if (snippet.DiagnosticId is null)
            Assert.True(si.Count == 0, $"{name} raises {string.Join(", ", si)}");
        else
            Assert.Equal([snippet.DiagnosticId], si);
    }

    [Fact]
    public void The_readme_program_prints_the_story_the_reference_engine_writes()
    {
        var snippet = AllSnippets().First(s => s.File == "README.md" && s.Code.Contains("[SpecializedEngine(", StringComparison.Ordinal));
        var (output, _) = Build(snippet);
        using var image = new MemoryStream();
        var emitted = output.Emit(image);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));

        var model = ModelLocator.Find("stories260K.gguf");
        var context = new AssemblyLoadContext("readme-program", isCollectible: true);
        string printed;
        try
        {
            image.Position = 0;
            var entry = context.LoadFromStream(image).EntryPoint!;
            printed = RunCapturingConsole(entry, model);
        }
        finally { context.Unload(); }

        // The program's story, written independently with the reference engine running the same plan.
        using var reference = ReferenceEngine.Load(model, Path.Combine(GeneratorHarness.ModelsFolder(), "stories260K.fast.plan.json"));
        Assert.Equal(GreedyStory.Write(reference, model, 100), printed.TrimEnd('\n', '\r'));
    }

    /// <summary>The snippet compiled (with the generator's output) and the analyzer's diagnostics.</summary>
    private static (Compilation Output, IReadOnlyList<Diagnostic> Analyzer) Build(Snippet snippet)
    {
        var tree = CSharpSyntaxTree.ParseText(snippet.Code, GeneratorHarness.ParseOptions, path: $"{GeneratorHarness.ProjectRoot}/Program.cs");
        var hasStatements = tree.GetRoot().ChildNodes().OfType<GlobalStatementSyntax>().Any();
        var compilation = CSharpCompilation.Create("Snippet",
            [tree, CSharpSyntaxTree.ParseText(ImplicitUsings, GeneratorHarness.ParseOptions, path: $"{GeneratorHarness.ProjectRoot}/GlobalUsings.g.cs")],
            GeneratorHarness.References,
            new CSharpCompilationOptions(hasStatements ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable, optimizationLevel: OptimizationLevel.Release));
        var files = AdditionalFiles();
        var (output, generatorDiagnostics, _) = GeneratorHarness.Run(compilation, files);
        Assert.Empty(generatorDiagnostics); // diagnostics come from the analyzer only
        var (analyzer, exceptions) = GeneratorHarness.Analyze(compilation, files);
        Assert.Empty(exceptions);
        return (output, analyzer);
    }

    /// <summary>
    /// The repository's models/ (manifests and plans the README names) and, for docs/diagnostics.md's examples, the
    /// valid Plans/a, b and p plans over Plans/m.model.json they refer to (Plans/nope.plan.json stays missing).
    /// </summary>
    private static List<AdditionalText> AdditionalFiles()
    {
        var files = GeneratorHarness.ModelFiles();
        var manifest = File.ReadAllText(Path.Combine(GeneratorHarness.ModelsFolder(), "stories260K.model.json"));
        files.Add(new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/Plans/m.model.json", manifest));
        foreach (var plan in new[] { "a", "b", "p" })
            files.Add(new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/Plans/{plan}.plan.json", "{ \"manifest\": \"m.model.json\" }"));
        // The encoder plans the README's generated-encoder example names.
        foreach (var file in Directory.GetFiles(Path.Combine(GeneratorHarness.ModelsFolder(), "eval", "plans"), "minilm.*.json").Order(StringComparer.Ordinal))
            files.Add(new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/models/eval/plans/{Path.GetFileName(file)}", File.ReadAllText(file)));
        return files;
    }

    private static readonly object ConsoleLock = new();

    private static string RunCapturingConsole(MethodInfo entry, string model)
    {
        lock (ConsoleLock)
        {
            var original = Console.Out;
            var captured = new StringWriter();
            Console.SetOut(captured);
            try
            {
                var result = entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [new[] { model }]);
                if (result is int code) Assert.Equal(0, code);
            }
            finally { Console.SetOut(original); }
            return captured.ToString();
        }
    }
}
