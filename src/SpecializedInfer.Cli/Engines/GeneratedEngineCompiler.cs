using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Cli.Engines;

/// <summary>
/// Builds a plan's generated engine in-process, as a project referencing the package would: the source generator
/// (<c>SpecializedInfer.Generators.SpecializedEngineGenerator</c>, loaded as a library) runs over a one-line
/// <c>[SpecializedEngine("PLAN")] partial class</c> with the plan, manifest and probe files as AdditionalFiles, and
/// the result is compiled with optimizations into an assembly in memory.
/// </summary>
/// <remarks>
/// Compiled against the .NET 10 reference assemblies (Basic.Reference.Assemblies.Net100) rather than the running
/// runtime's implementation assemblies: the same references every time, whatever patch of the runtime runs, so a
/// cached engine does not depend on it. A plan the analyzer rejects gets no engine to load; its SI
/// diagnostics are then reported as a <see cref="PlanException"/>, exactly as the reference engine's loader would.
/// </remarks>
internal static class GeneratedEngineCompiler
{
    /// <summary>The namespace the engine classes are declared in.</summary>
    public const string Namespace = "SpecializedInfer.Cli.GeneratedEngines";

    // Per thread: a compilation runs on the thread that asked for the engine, so a test counts its own loads' builds
    // even while tests in other collections compile engines of their own on other threads.
    [ThreadStatic] private static int _compilations;

    /// <summary>Engines compiled on the calling thread (cache hits do not count): what tests observe to tell a hit from a build.</summary>
    public static int Compilations => _compilations;

    private static readonly Lazy<Assembly> Generator = new(() =>
    {
        var path = Path.Combine(AppContext.BaseDirectory, "generator", "SpecializedInfer.Generators.dll");
        if (!File.Exists(path))
            throw new EngineCompilationException($"The source generator is not installed beside si (expected {path}); --engine generated needs it.");
        return AssemblyLoadContext.Default.LoadFromAssemblyPath(path);
    });

    public static Assembly GeneratorAssembly => Generator.Value;

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    [
        .. Basic.Reference.Assemblies.Net100.References.All,
        Reference(typeof(SpecializedInfer.Engine.ReferenceEngine).Assembly),
        Reference(typeof(System.Numerics.Tensors.TensorPrimitives).Assembly),
        // Generated encoders are Microsoft.Extensions.AI embedding generators.
        Reference(typeof(Microsoft.Extensions.AI.IEmbeddingGenerator).Assembly),
    ]);

    private static MetadataReference Reference(Assembly assembly) =>
        assembly.Location.Length > 0 ? MetadataReference.CreateFromFile(assembly.Location)
            : throw new EngineCompilationException($"{assembly.GetName().Name} has no file to compile against (is si a single-file app?); --engine generated needs it on disk.");

    /// <summary>The engine's assembly (a PE image), or a <see cref="PlanException"/> with the analyzer's errors.</summary>
    public static byte[] Compile(EngineSources sources)
    {
        var additionalTexts = sources.Files.Select(f => (AdditionalText)new InMemoryAdditionalText(f.Path, f.Text)).ToImmutableArray();
        var declaration = $"namespace {Namespace} {{ [global::SpecializedInfer.SpecializedEngine({SymbolDisplay.FormatLiteral(sources.PlanPath, quote: true)})] public partial class {sources.ClassName}; }}";
        var compilation = CSharpCompilation.Create($"{Namespace}.{sources.ClassName}",
            [CSharpSyntaxTree.ParseText(declaration, ParseOptions, path: "Engine.cs")],
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release,
                nullableContextOptions: NullableContextOptions.Enable, deterministic: true));

        var generator = (IIncrementalGenerator)Activator.CreateInstance(GeneratorAssembly.GetType("SpecializedInfer.Generators.SpecializedEngineGenerator", throwOnError: true)!)!;
        CSharpGeneratorDriver.Create([generator.AsSourceGenerator()], additionalTexts, ParseOptions)
            .RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);

        // A plan with an error still gets a class (its members throw, naming the SI diagnostic, so a user's build shows only
        // SI errors): the analyzer decides whether there is an engine to load.
        var problems = Analyze(compilation, additionalTexts);
        if (problems.Count > 0) throw new PlanException(problems);
        if (output.SyntaxTrees.Count() == 1)
            throw new EngineCompilationException($"The source generator emitted no engine for {sources.PlanPath}" +
                FirstErrors(generatorDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning)));

        using var image = new MemoryStream();
        var result = output.Emit(image);
        if (!result.Success)
            throw new EngineCompilationException($"The engine generated for {sources.PlanPath} did not compile" +
                FirstErrors(result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        _compilations++;
        return image.ToArray();
    }

    /// <summary>The analyzer's errors (SI diagnostics at their file, line and column) as plan problems.</summary>
    private static List<PlanProblem> Analyze(Compilation compilation, ImmutableArray<AdditionalText> additionalTexts)
    {
        var analyzer = (DiagnosticAnalyzer)Activator.CreateInstance(GeneratorAssembly.GetType("SpecializedInfer.Generators.Analyzers.PlanAnalyzer", throwOnError: true)!)!;
        var diagnostics = compilation.WithAnalyzers([analyzer], new AnalyzerOptions(additionalTexts))
            .GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
        return diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d =>
        {
            var span = d.Location.GetLineSpan();
            var range = new TextRange(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length,
                span.StartLinePosition.Line, span.StartLinePosition.Character, span.EndLinePosition.Line, span.EndLinePosition.Character);
            return new PlanProblem(d.Id, ProblemSeverity.Error, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), span.Path, range);
        }).ToList();
    }

    private static string FirstErrors(IEnumerable<Diagnostic> diagnostics)
    {
        var first = diagnostics.Take(3).Select(d => d.ToString()).ToList();
        return first.Count == 0 ? "." : ": " + string.Join("; ", first);
    }

    private sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text);
        public override string Path { get; } = path;
        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }
}
