extern alias generators;
using BenchmarkDotNet.Attributes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using generators::SpecializedInfer.Generators;

namespace SpecializedInfer.Benchmarks;

/// <summary>Build-time cost: one full run of the generator over a project with one engine class and its plan.</summary>
[SimpleJob(warmupCount: 3, iterationCount: 15)]
public class GeneratorBenchmarks
{
    private CSharpCompilation? _compilation;
    private AdditionalText[] _files = [];

    [Params("stories260K.full", "stories260K.fast", "stories110M.full")]
    public string Plan { get; set; } = "stories260K.full";

    [GlobalSetup]
    public void Setup()
    {
        var root = Repository.Root;
        var model = Plan.Split('.')[0];
        var dir = model == "stories260K" ? Path.Combine(root, "models") : Path.Combine(root, "benchmarks", "SpecializedInfer.Benchmarks", "models");
        _files =
        [
            new FileText(Path.Combine(dir, $"{model}.model.json")),
            new FileText(Path.Combine(dir, $"{Plan}.plan.json")),
        ];
        var source = $$"""
            namespace App;
            [SpecializedInfer.SpecializedEngine("models/{{Plan}}.plan.json")]
            public partial class Engine;
            """;
        _compilation = CSharpCompilation.Create("App", [CSharpSyntaxTree.ParseText(source)],
            [.. Basic.Reference.Assemblies.Net100.References.All, MetadataReference.CreateFromFile(typeof(SpecializedEngineAttribute).Assembly.Location)],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
    }

    [Benchmark(Description = "generator run (parse plan + manifest, emit engine and kernels)")]
    public int Generate()
    {
        var driver = CSharpGeneratorDriver.Create([new SpecializedEngineGenerator().AsSourceGenerator()], _files);
        var result = driver.RunGenerators(_compilation!).GetRunResult();
        // The engine and its kernels, beside the post-initialization sources (the kernels' shared helpers).
        if (!result.GeneratedTrees.Any(t => t.FilePath.EndsWith("App.Engine.Kernels.g.cs", StringComparison.Ordinal))
            || result.Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error))
            throw new InvalidOperationException(string.Join("\n", result.Diagnostics));
        return result.GeneratedTrees.Sum(t => t.Length);
    }

    private sealed class FileText(string path) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(File.ReadAllText(path));
        public override string Path { get; } = path;
        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }
}

internal static class Repository
{
    public static string Root
    {
        get
        {
            foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
                for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                    if (File.Exists(Path.Combine(dir.FullName, "SpecializedInfer.sln"))) return dir.FullName;
            throw new DirectoryNotFoundException("SpecializedInfer.sln not found above the benchmark's folder.");
        }
    }
}
