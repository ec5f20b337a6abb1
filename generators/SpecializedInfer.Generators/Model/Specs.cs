using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Model;

// The incremental pipeline's models. They hold only primitives, strings, EquatableArray and the Planning records,
// never ISymbol, SyntaxNode, Location or Compilation, so every step compares by value and caches.

/// <summary>A place in a file, kept as values (path, span, line span) and turned into a <see cref="Location"/> only when reported.</summary>
public sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(Location? location) =>
        location is null || location.SourceTree is null
            ? null
            : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);

    public static LocationInfo From(string filePath, TextRange range) =>
        new(filePath, new TextSpan(range.Start, range.Length),
            new LinePositionSpan(new LinePosition(range.StartLine, range.StartColumn), new LinePosition(range.EndLine, range.EndColumn)));
}

/// <summary>A diagnostic to report: its ID (SI0001...), severity, message and place; <see cref="Suggestion"/> is a known property name an unknown one is close to.</summary>
public sealed record DiagnosticInfo(string Id, ProblemSeverity Severity, string Message, LocationInfo? Location, string? Suggestion = null)
{
    public static DiagnosticInfo From(PlanProblem p) => new(p.Id, p.Severity, p.Message, LocationInfo.From(p.FilePath, p.Range), p.Suggestion);

    public static DiagnosticInfo Error(string id, string message, LocationInfo? location) => new(id, ProblemSeverity.Error, message, location);
}

/// <summary>A type the engine class is nested in, as it must be re-declared ("partial class Outer").</summary>
public sealed record ContainingTypeInfo(string Keyword, string Name)
{
    /// <summary>The re-declaration generated files open it with.</summary>
    public string Declaration => $"partial {Keyword} {Name}";
}

/// <summary>A class marked [SpecializedEngine]: where it is, what it is called, which plan it names, what is wrong with it.</summary>
public sealed record EngineTarget(
    string? Namespace,
    string ClassName,
    string ClassIdentifier,
    EquatableArray<ContainingTypeInfo> ContainingTypes,
    string FullName,
    string? PlanPath,
    LocationInfo? PlanArgumentLocation,
    EquatableArray<DiagnosticInfo> Problems);

/// <summary>A top-level property's position, so generator-side checks can point into a manifest.</summary>
public sealed record PropertyRange(string Name, TextRange Range);

/// <summary>
/// A JSON AdditionalFile: its path as given, the normalized path used for matching, and either the text (plans and
/// probe sidecars) or the checked manifest. <see cref="ReadProblem"/>: why an unreadable file was not read (SI0037),
/// when there is more to say than that the compiler had no text for it.
/// </summary>
public sealed record JsonFile(
    string Path,
    string NormalizedPath,
    bool IsManifest,
    bool Readable,
    string? Text,
    ManifestReadResult? Manifest,
    EquatableArray<PropertyRange> ManifestProperties)
{
    public bool IsProbe => Path.EndsWith(ProbeReader.Extension, System.StringComparison.OrdinalIgnoreCase);
    public bool IsPlan => Path.EndsWith(PlanReader.Extension, System.StringComparison.OrdinalIgnoreCase);
    public string? ReadProblem { get; init; }

    /// <summary>A manifest's <c>architecture</c> as written, read even when the manifest has errors (null: absent or not a string).</summary>
    public string? Architecture { get; init; }
}

/// <summary>
/// Everything the emitter needs for one engine. <see cref="WeightCopyLimit"/>: models whose bound weights take at
/// most this many bytes get them copied into a 64-byte-aligned array at load (MSBuild property
/// <c>SpecializedInferWeightCopyLimit</c>, default <see cref="GeneratorOptions.DefaultWeightCopyLimit"/>).
/// </summary>
public sealed record EngineSpec(
    string? Namespace,
    string ClassName,
    string ClassIdentifier,
    EquatableArray<ContainingTypeInfo> ContainingTypes,
    string HintName,
    string PlanFile,
    string ManifestReference,
    string? PlanDescription,
    ModelManifest Manifest,
    ExecutionSchedule Schedule,
    long WeightCopyLimit);

/// <summary>
/// A target whose plan cannot become an engine (the plan, its manifest or a probe has an error): its class gets the
/// engine's public surface with every member throwing an InvalidOperationException that names the SI error, so code
/// using the engine still compiles and the analyzer's diagnostic is the build's only error.
/// </summary>
public sealed record UnavailableEngine(
    string? Namespace,
    string ClassName,
    string ClassIdentifier,
    EquatableArray<ContainingTypeInfo> ContainingTypes,
    string HintName,
    string PlanFile,
    string DiagnosticId,
    string DiagnosticMessage,
    UnavailableEncoder? Encoder = null);

/// <summary>
/// Set on an <see cref="UnavailableEngine"/> whose manifest is an encoder's (<c>architecture: bert</c>): the class keeps
/// a generated encoder's surface instead of a decoder's. <see cref="Dim"/> and the other sizes are known (and emitted as
/// the encoder's constants) only when the manifest itself is valid.
/// </summary>
public sealed record UnavailableEncoder(bool SizesKnown, int Dim, int HiddenDim, int Heads, int HeadDim);

/// <summary>
/// What a target resolves to: an engine (<see cref="Spec"/>), the throwing surface of one whose plan has an error
/// (<see cref="Unavailable"/>), or neither when the class itself cannot hold an engine (SI0007, SI0008).
/// </summary>
public sealed record EngineResolution(EngineSpec? Spec, UnavailableEngine? Unavailable)
{
    public static readonly EngineResolution None = new(null, null);
}

/// <summary>One generated file.</summary>
public sealed record EngineSource(string HintName, string Text);

/// <summary>Project-wide generator options, from MSBuild properties made visible to the compiler.</summary>
public sealed record GeneratorOptions(long WeightCopyLimit)
{
    public const string WeightCopyLimitProperty = "build_property.SpecializedInferWeightCopyLimit";

    /// <summary>64 MiB: cache-sized models, where the alignment of the weights shows; larger ones stream from memory.</summary>
    public const long DefaultWeightCopyLimit = 64L << 20;

    public static GeneratorOptions Default { get; } = new(DefaultWeightCopyLimit);

    public static GeneratorOptions From(Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions global) =>
        global.TryGetValue(WeightCopyLimitProperty, out var text)
        && long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var limit)
            ? new GeneratorOptions(limit)
            : Default;
}
