using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Generators.Parsing;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Analyzers;

/// <summary>
/// Reports every SpecializedInfer diagnostic, in the IDE and the build:
/// <list type="bullet">
/// <item>manifest, plan and probe problems from an AdditionalFile action, at the line and column in the JSON
/// file (suppressible with <c>dotnet_diagnostic.SI00xx.severity</c> in .editorconfig);</item>
/// <item>[SpecializedEngine] class problems (SI0006-SI0008) from a symbol action, at the attribute argument or the
/// class name (suppressible with #pragma as well);</item>
/// <item>SI0031 (PublishAot without an AVX-512 instruction set) from a compilation action, without a location: it
/// is about the project's MSBuild properties, which have no place in any file the compiler sees.</item>
/// </list>
/// It lives in the generator's assembly so the package ships one compiler-side dll and both run exactly the same
/// checks (<see cref="PlanResolution"/>, <see cref="EngineTargetParser"/>).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class PlanAnalyzer : DiagnosticAnalyzer
{
    public const string PublishAotProperty = "build_property.PublishAot";
    public const string InstructionSetProperty = "build_property.IlcInstructionSet";

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => DiagnosticDescriptors.All;

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var project = new ProjectJsonFiles(start.Options.AdditionalFiles);
            start.RegisterAdditionalFileAction(file =>
            {
                foreach (var d in project.DiagnosticsFor(file.AdditionalFile.Path, file.CancellationToken)) file.ReportDiagnostic(d);
            });
            var attribute = start.Compilation.GetTypeByMetadataName(EngineTargetParser.AttributeMetadataName);
            if (attribute is not null)
                start.RegisterSymbolAction(symbol => AnalyzeType(symbol, attribute, project), SymbolKind.NamedType);
        });
        context.RegisterCompilationAction(AnalyzeDeployment);
    }

    private static void AnalyzeType(SymbolAnalysisContext context, INamedTypeSymbol attribute, ProjectJsonFiles project)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        var attributes = type.GetAttributes().Where(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, attribute)).ToList();
        if (attributes.Count == 0) return;

        var targets = new List<(EngineTarget Target, SyntaxTree Tree)>();
        foreach (var reference in type.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(context.CancellationToken) is not TypeDeclarationSyntax declaration) continue;
            var here = attributes.Where(a => a.ApplicationSyntaxReference is { } r
                && r.SyntaxTree == declaration.SyntaxTree && declaration.Span.Contains(r.Span)).ToList();
            if (here.Count > 0) targets.Add((EngineTargetParser.Parse(declaration, type, here, context.CancellationToken), declaration.SyntaxTree));
        }

        // Attributes on two parts of one partial class: two plans would generate the same class.
        var duplicated = targets.Count > 1;
        foreach (var (target, tree) in targets)
        {
            foreach (var p in target.Problems) context.ReportDiagnostic(DiagnosticDescriptors.ToDiagnostic(p, InSource(p.Location, tree)));
            if (duplicated)
            {
                var p = DiagnosticInfo.Error(ProblemIds.DuplicateEngineClass,
                    $"More than one [SpecializedEngine] attribute targets the class '{target.FullName.Replace("global::", "")}'; one class is one engine",
                    target.PlanArgumentLocation);
                context.ReportDiagnostic(DiagnosticDescriptors.ToDiagnostic(p, InSource(p.Location, tree)));
            }
            if (target.Problems.Count > 0 || duplicated) continue;
            if (PlanResolution.FindPlan(target.PlanPath, project.Files(context.CancellationToken), target.PlanArgumentLocation, out var missing) is null && missing is not null)
                context.ReportDiagnostic(DiagnosticDescriptors.ToDiagnostic(missing, InSource(missing.Location, tree)));
        }
    }

    /// <summary>A source location (so #pragma and the IDE's squiggles apply), not the external one LocationInfo makes.</summary>
    private static Location InSource(LocationInfo? at, SyntaxTree tree) =>
        at is null ? Location.None
        : at.FilePath == tree.FilePath && at.Span.End <= tree.Length ? Location.Create(tree, at.Span)
        : at.ToLocation();

    private static void AnalyzeDeployment(CompilationAnalysisContext context)
    {
        var options = context.Options.AnalyzerConfigOptionsProvider.GlobalOptions;
        if (!options.TryGetValue(PublishAotProperty, out var aot) || !string.Equals(aot?.Trim(), "true", System.StringComparison.OrdinalIgnoreCase)) return;
        // Only projects that generate engines care how Vector512 code is compiled.
        if (!context.Options.AdditionalFiles.Any(t => t.Path.EndsWith(PlanReader.Extension, System.StringComparison.OrdinalIgnoreCase))) return;
        options.TryGetValue(InstructionSetProperty, out var set);
        if (IsAvx512(set)) return;
        var message = string.IsNullOrWhiteSpace(set)
            ? "PublishAot is true but IlcInstructionSet is not set: NativeAOT targets x86-64-v2 by default, so Vector512 is not hardware-accelerated and the generated kernels run their fallback; add <IlcInstructionSet>x86-64-v4</IlcInstructionSet> (or native)"
            : $"PublishAot is true but IlcInstructionSet is '{set}', not an AVX-512 level: Vector512 is not hardware-accelerated and the generated kernels run their fallback; use x86-64-v4 (or native)";
        context.ReportDiagnostic(DiagnosticDescriptors.ToDiagnostic(
            new DiagnosticInfo(ProblemIds.AotWithoutAvx512, ProblemSeverity.Warning, message, null), Location.None));
    }

    /// <summary>
    /// x86-64-v4 (also spelt x86-x64-v4), native, or an explicit list holding every AVX-512 subset .NET needs for
    /// Vector512.IsHardwareAccelerated (F, BW, CD, DQ, VL).
    /// </summary>
    public static bool IsAvx512(string? instructionSet)
    {
        if (string.IsNullOrWhiteSpace(instructionSet)) return false;
        var parts = instructionSet!.Split(',').Select(p => p.Trim().ToLowerInvariant()).ToList();
        if (parts.Any(p => p is "x86-64-v4" or "x86-x64-v4" or "native")) return true;
        return new[] { "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl" }.All(parts.Contains);
    }
}
