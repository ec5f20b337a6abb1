using System.Collections.Immutable;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace SpecializedInfer.Generator.Tests.Support;

/// <summary>An AdditionalFile held in memory.</summary>
public sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
{
    private readonly SourceText _text = SourceText.From(text);
    public override string Path { get; } = path;
    public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
}

/// <summary>MSBuild properties as the compiler passes them to generators (build_property.X).</summary>
public sealed class TestOptionsProvider(IReadOnlyDictionary<string, string> global) : AnalyzerConfigOptionsProvider
{
    private sealed class Options(IReadOnlyDictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) =>
            values.TryGetValue(key, out value);
    }

    private static readonly Options Empty = new(new Dictionary<string, string>());
    public override AnalyzerConfigOptions GlobalOptions { get; } = new Options(global);
    public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Empty;
    public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => Empty;
}

/// <summary>
/// Runs the generator in memory: a compilation against the .NET 10 reference assemblies plus the runtime (and
/// System.Numerics.Tensors, which generated kernels call), JSON AdditionalFiles, and a driver.
/// </summary>
public static class GeneratorHarness
{
    /// <summary>The project root the in-memory AdditionalFiles pretend to live under.</summary>
    public const string ProjectRoot = "/project";

    private static readonly Lazy<Type> GeneratorType = new(() =>
    {
        var path = Path.Combine(AppContext.BaseDirectory, "generator", "SpecializedInfer.Generators.dll");
        return Assembly.LoadFrom(path).GetType("SpecializedInfer.Generators.SpecializedEngineGenerator", throwOnError: true)!;
    });

    public static Assembly GeneratorAssembly => GeneratorType.Value.Assembly;

    public static IIncrementalGenerator CreateGenerator() => (IIncrementalGenerator)Activator.CreateInstance(GeneratorType.Value)!;

    /// <summary>The analyzer that ships in the generator's assembly and reports every SI diagnostic.</summary>
    public static DiagnosticAnalyzer CreateAnalyzer() =>
        (DiagnosticAnalyzer)Activator.CreateInstance(GeneratorAssembly.GetType("SpecializedInfer.Generators.Analyzers.PlanAnalyzer", throwOnError: true)!)!;

    private static readonly Lazy<ImmutableArray<DiagnosticAnalyzer>> Analyzers = new(() => [CreateAnalyzer()]);

    /// <summary>
    /// Runs the analyzer as the compiler would; returns its diagnostics (after severity configuration and #pragma)
    /// and every exception it threw (the compiler would turn each into AD0001).
    /// </summary>
    public static (ImmutableArray<Diagnostic> Diagnostics, List<Exception> Exceptions) Analyze(
        Compilation compilation, IEnumerable<AdditionalText> additionalTexts, IReadOnlyDictionary<string, string>? msbuildProperties = null)
    {
        var exceptions = new List<Exception>();
        var options = new AnalyzerOptions([.. additionalTexts],
            new TestOptionsProvider((msbuildProperties ?? new Dictionary<string, string>()).ToDictionary(p => "build_property." + p.Key, p => p.Value)));
        var withAnalyzers = compilation.WithAnalyzers(Analyzers.Value, new CompilationWithAnalyzersOptions(options,
            onAnalyzerException: (e, _, _) => { lock (exceptions) exceptions.Add(e); }, concurrentAnalysis: false, logAnalyzerExecutionTime: false));
        var diagnostics = withAnalyzers.GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
        return (diagnostics, exceptions);
    }

    public static readonly ImmutableArray<MetadataReference> References =
    [
        .. Basic.Reference.Assemblies.Net100.References.All,
        MetadataReference.CreateFromFile(typeof(SpecializedInfer.Engine.ReferenceEngine).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(System.Numerics.Tensors.TensorPrimitives).Assembly.Location),
        // The package's other dependency: a user's project sees it too (the encoders' IEmbeddingGenerator).
        MetadataReference.CreateFromFile(typeof(Microsoft.Extensions.AI.IEmbeddingGenerator).Assembly.Location),
    ];

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    public static CSharpCompilation Compilation(params string[] sources) =>
        CSharpCompilation.Create("GeneratedEngines",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"{ProjectRoot}/Source{i}.cs")),
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable,
                optimizationLevel: OptimizationLevel.Release));

    public static GeneratorDriver Driver(IEnumerable<AdditionalText> additionalTexts, bool trackSteps = false,
        IReadOnlyDictionary<string, string>? msbuildProperties = null) =>
        CSharpGeneratorDriver.Create([CreateGenerator().AsSourceGenerator()], additionalTexts, ParseOptions,
            msbuildProperties is null ? null : new TestOptionsProvider(msbuildProperties.ToDictionary(p => "build_property." + p.Key, p => p.Value)),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>Runs the generator; returns the updated compilation, the generator's diagnostics and its run result.</summary>
    public static (Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, GeneratorDriverRunResult Result) Run(
        CSharpCompilation compilation, IEnumerable<AdditionalText> additionalTexts, IReadOnlyDictionary<string, string>? msbuildProperties = null)
    {
        var driver = Driver(additionalTexts, msbuildProperties: msbuildProperties).RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        return (output, diagnostics, driver.GetRunResult());
    }

    /// <summary>The repository root: the folder above the test binaries holding SpecializedInfer.sln.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SpecializedInfer.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No SpecializedInfer.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>The repository's models/ folder (manifests and plans).</summary>
    public static string ModelsFolder() => Path.Combine(RepositoryRoot, "models");

    /// <summary>This test project's source folder.</summary>
    public static string TestFolder() => Path.Combine(RepositoryRoot, "tests", "SpecializedInfer.Generator.Tests");

    /// <summary>models/*.json as AdditionalFiles under <see cref="ProjectRoot"/>/models.</summary>
    public static List<AdditionalText> ModelFiles() =>
        Directory.GetFiles(ModelsFolder(), "*.json").OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => (AdditionalText)new InMemoryAdditionalText($"{ProjectRoot}/models/{Path.GetFileName(f)}", File.ReadAllText(f)))
            .ToList();

    /// <summary>The file a project with engines gets once, whatever their number: the kernels' shared helpers.</summary>
    public const string VectorMathHintName = "SpecializedInfer.Generated.VectorMath.g.cs";

    /// <summary>
    /// The engines' own files (X.g.cs): not their kernels (X.Kernels.g.cs), the shared VectorMath, the
    /// EmbeddedAttribute every run adds, nor the throwing surface of an engine whose plan has an error.
    /// </summary>
    public static List<SyntaxTree> EngineTrees(GeneratorDriverRunResult result) =>
        result.GeneratedTrees.Where(t => IsEngineFile(t.FilePath) && !IsUnavailable(t)).ToList();

    /// <summary>The X.g.cs of engines whose plan has an error: the engine's members, each throwing with the SI diagnostic.</summary>
    public static List<SyntaxTree> UnavailableTrees(GeneratorDriverRunResult result) =>
        result.GeneratedTrees.Where(t => IsEngineFile(t.FilePath) && IsUnavailable(t)).ToList();

    private static bool IsUnavailable(SyntaxTree tree) => tree.ToString().Contains("internal const string Unavailable = \"The engine ", StringComparison.Ordinal);

    public static bool IsEngineFile(string path) =>
        path.EndsWith(".g.cs", StringComparison.Ordinal) && !path.EndsWith(".Kernels.g.cs", StringComparison.Ordinal)
        && Path.GetFileName(path) != VectorMathHintName;

    /// <summary>Errors and warnings of a compilation (the generated code must have none).</summary>
    public static List<Diagnostic> Problems(Compilation compilation) =>
        compilation.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
}
