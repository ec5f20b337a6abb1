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
/// [SpecializedEngine] classes ──► EngineTargets ──┬──────────────────────────────► EngineSpecs ──► EngineLayouts ──┬──► EngineSources ──► AddSource X.g.cs
///                                                 └─► DuplicateTargets ──────────┤                                 └──► KernelSets ──► KernelSources ──► AddSource X.Kernels.g.cs
///                                                           EngineSpecs ──► EncoderSources / EncoderKernelSources ──► AddSource X.g.cs, X.Kernels.g.cs (architecture: bert)
/// *.plan.json / *.model.json ──► JsonFiles ──► AllJsonFiles ─────────────────────┤
/// MSBuild properties ──► Options ─────────────────────────────────────────────────┘
///                                                           EngineSpecs ──► UnavailableSources ──► AddSource X.g.cs (a plan with an error: the throwing surface)
///                                                           EngineSpecs ──► AnyEngine ──► AddSource SpecializedInfer.Generated.VectorMath.g.cs (once per project)
/// post-initialization: Microsoft.CodeAnalysis.EmbeddedAttribute (VectorMath is internal and [Embedded])
/// </code>
/// The generator reports no diagnostics: <see cref="Analyzers.PlanAnalyzer"/> reports every problem, at its line
/// and column, from the same checks (<see cref="PlanResolution"/>, <see cref="EngineTargetParser"/>); there is
/// nothing the generator sees that the analyzer cannot. A target whose plan has an error gets no engine, only the
/// engine's members each throwing with the diagnostic's words (<see cref="UnavailableEngineEmitter"/>), so the user
/// sees the analyzer's diagnostic and not a cascade of errors in generated code or in their own code that calls
/// the engine; a class that cannot hold an engine (SI0007, SI0008) gets nothing. Analyzers also honour .editorconfig
/// severities and #pragma, which generator diagnostics would not for JSON locations.
/// Models are equatable values, so an edit re-runs only what it touches: an unrelated C# edit nothing past the
/// attribute lookup, an edited plan only its own engine's emission (and its kernels only when their shapes change).
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

        var options = context.AnalyzerConfigOptionsProvider
            .Select((provider, _) => GeneratorOptions.From(provider.GlobalOptions))
            .WithTrackingName(TrackingNames.Options);

        var specs = targets
            .Combine(allJsonFiles)
            .Combine(duplicates)
            .Combine(options)
            .Select((input, ct) => EngineSpecResolver.Resolve(input.Left.Left.Left, input.Left.Left.Right, input.Left.Right, input.Right, ct))
            .WithTrackingName(TrackingNames.EngineSpecs);

        var layouts = specs
            .Select((resolution, _) => resolution.Spec is null || EncoderKernelSet.IsEncoder(resolution.Spec) ? null : EngineLayout.For(resolution.Spec))
            .WithTrackingName(TrackingNames.EngineLayouts);

        var engineSources = layouts
            .Select((engine, _) => engine is null ? null : EngineEmitter.Emit(engine))
            .WithTrackingName(TrackingNames.EngineSources);

        var kernelSets = layouts
            .Select((engine, _) => engine is null ? null : KernelSet.For(engine))
            .WithTrackingName(TrackingNames.KernelSets);

        var kernelSources = kernelSets
            .Select((set, _) => set is null ? null : KernelEmitter.Emit(set))
            .WithTrackingName(TrackingNames.KernelSources);

        // Encoders (architecture: bert): the engine from the spec, the kernels from their sizes alone.
        var encoderSources = specs
            .Select((resolution, _) => resolution.Spec is { } spec && EncoderKernelSet.IsEncoder(spec) ? EncoderEmitter.Emit(spec) : null)
            .WithTrackingName(TrackingNames.EncoderSources);
        var encoderKernelSets = specs
            .Select((resolution, _) => resolution.Spec is { } spec && EncoderKernelSet.IsEncoder(spec) ? EncoderKernelSet.For(spec) : null)
            .WithTrackingName(TrackingNames.EncoderKernelSets);
        var encoderKernelSources = encoderKernelSets
            .Select((set, _) => set is null ? null : EncoderKernelEmitter.Emit(set))
            .WithTrackingName(TrackingNames.EncoderKernelSources);

        // Every engine's kernels derive from VectorMath: once per project, and only in projects with an engine.
        var anyEngine = specs
            .Select((resolution, _) => resolution.Spec is not null)
            .Collect()
            .Select((engines, _) => engines.Contains(true))
            .WithTrackingName(TrackingNames.AnyEngine);
        context.RegisterPostInitializationOutput(static post => post.AddEmbeddedAttributeDefinition());
        context.RegisterSourceOutput(anyEngine, static (spc, any) =>
        {
            if (any) spc.AddSource(VectorMathEmitter.HintName, VectorMathEmitter.Text);
        });
        context.RegisterSourceOutput(engineSources, AddSource);
        context.RegisterSourceOutput(kernelSources, AddSource);
        context.RegisterSourceOutput(encoderSources, AddSource);
        context.RegisterSourceOutput(encoderKernelSources, AddSource);

        // A plan with an error: the engine's surface, every member throwing with the SI diagnostic's words.
        var unavailableSources = specs
            .Select((resolution, _) => resolution.Unavailable is null ? null : UnavailableEngineEmitter.Emit(resolution.Unavailable))
            .WithTrackingName(TrackingNames.UnavailableSources);
        context.RegisterSourceOutput(unavailableSources, AddSource);
    }

    private static void AddSource(SourceProductionContext context, EngineSource? source)
    {
        if (source is not null) context.AddSource(source.HintName, source.Text);
    }
}
