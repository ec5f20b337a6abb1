using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using SpecializedInfer.Generators.Emitting;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Generators.Parsing;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators;

/// <summary>
/// Generates a specialized inference engine into every partial class marked
/// <c>[SpecializedEngine("path/NAME.plan.json")]</c>, from the plan and its manifest among the AdditionalFiles.
/// </summary>
/// <remarks>
/// Pipeline (each step named in <see cref="TrackingNames"/>):
/// <code>
/// [SpecializedEngine] classes ──► EngineTargets ──┬──────────────────────────────► EngineSpecs ──► EngineSources ──► AddSource
///                                                 └─► DuplicateTargets ──────────┤            └─► EngineDiagnostics ──► Report
/// *.plan.json / *.model.json ──► JsonFiles ──► AllJsonFiles ─────────────────────┤
/// MSBuild properties ──► Options ─────────────────────────────────────────────────┘
///                                          └─► ManifestDiagnostics ──► Report (once per manifest)
/// </code>
/// Models are equatable values, so an edit re-runs only what it touches: an unrelated C# edit nothing past the
/// attribute lookup, an edited plan only its own engine's emission.
/// </remarks>
[Generator(LanguageNames.CSharp)]
public sealed class SpecializedEngineGenerator : IIncrementalGenerator
{
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var targets = context.SyntaxProvider
            .ForAttributeWithMetadataName(EngineTargetParser.AttributeMetadataName, EngineTargetParser.IsCandidate, EngineTargetParser.Parse)
            .WithTrackingName(TrackingNames.EngineTargets);

        var duplicates = targets.Collect()
            .Select((all, _) => EngineSpecResolver.Duplicates(all))
            .WithTrackingName(TrackingNames.DuplicateTargets);

        var jsonFiles = context.AdditionalTextsProvider
            .Where(JsonFileReader.IsJsonInput)
            .Select(JsonFileReader.Read)
            .WithTrackingName(TrackingNames.JsonFiles);

        var allJsonFiles = jsonFiles.Collect()
            .Select((files, _) => files.OrderBy(f => f.NormalizedPath, System.StringComparer.Ordinal).ToEquatableArray())
            .WithTrackingName(TrackingNames.AllJsonFiles);

        var manifestDiagnostics = jsonFiles
            .Select((file, _) => JsonFileReader.ManifestDiagnostics(file))
            .WithTrackingName(TrackingNames.ManifestDiagnostics);

        var options = context.AnalyzerConfigOptionsProvider
            .Select((provider, _) => GeneratorOptions.From(provider.GlobalOptions))
            .WithTrackingName(TrackingNames.Options);

        var results = targets
            .Combine(allJsonFiles)
            .Combine(duplicates)
            .Combine(options)
            .Select((input, ct) => EngineSpecResolver.Resolve(input.Left.Left.Left, input.Left.Left.Right, input.Left.Right, input.Right, ct))
            .WithTrackingName(TrackingNames.EngineSpecs);

        var sources = results
            .Select((result, _) => result.Spec is null ? null : EngineEmitter.Emit(result.Spec))
            .WithTrackingName(TrackingNames.EngineSources);

        var diagnostics = results
            .Select((result, _) => result.Diagnostics)
            .WithTrackingName(TrackingNames.EngineDiagnostics);

        context.RegisterSourceOutput(sources, static (spc, source) =>
        {
            if (source is not null) spc.AddSource(source.HintName, source.Text);
        });
        context.RegisterSourceOutput(diagnostics, static (spc, list) => Report(spc, list));
        context.RegisterSourceOutput(manifestDiagnostics, static (spc, list) => Report(spc, list));
    }

    private static void Report(SourceProductionContext context, EquatableArray<DiagnosticInfo> diagnostics)
    {
        foreach (var d in diagnostics) context.ReportDiagnostic(DiagnosticDescriptors.ToDiagnostic(d));
    }
}
