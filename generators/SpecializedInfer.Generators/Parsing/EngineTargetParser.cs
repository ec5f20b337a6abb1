using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Parsing;

/// <summary>
/// Stage 1: a class carrying [SpecializedEngine] becomes an <see cref="EngineTarget"/>: names, the plan path as
/// written, and SI0008 problems when the class cannot receive a generated partial (not partial, generic, static,
/// abstract, file-local, a record, or nested in a type that is not a partial non-generic class/struct).
/// </summary>
public static class EngineTargetParser
{
    public const string AttributeMetadataName = "SpecializedInfer.SpecializedEngineAttribute";

    public static bool IsCandidate(SyntaxNode node, CancellationToken _) => node is TypeDeclarationSyntax;

    public static EngineTarget Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken) =>
        Parse((TypeDeclarationSyntax)context.TargetNode, (INamedTypeSymbol)context.TargetSymbol, context.Attributes, cancellationToken);

    /// <summary>
    /// One declaration of <paramref name="symbol"/> and the [SpecializedEngine] attributes of the symbol (those not
    /// written on this declaration are ignored); the generator and the analyzer both come through here.
    /// </summary>
    public static EngineTarget Parse(TypeDeclarationSyntax declaration, INamedTypeSymbol symbol, IEnumerable<AttributeData> attributes,
        CancellationToken cancellationToken)
    {
        var problems = new List<DiagnosticInfo>();
        var classLocation = LocationInfo.From(declaration.Identifier.GetLocation());
        var name = declaration.Identifier.ValueText;

        void Invalid(string why) => problems.Add(DiagnosticInfo.Error(ProblemIds.InvalidEngineClass,
            $"The class '{name}' marked [SpecializedEngine] {why}", classLocation));

        if (declaration is not ClassDeclarationSyntax)
            Invalid("must be a class (not a record, struct or interface)");
        else
        {
            if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword)) Invalid("must be declared partial so the engine can be generated into it");
            if (declaration.TypeParameterList is not null || symbol.IsGenericType) Invalid("must not be generic: an engine is specialized to one plan");
            if (declaration.Modifiers.Any(SyntaxKind.StaticKeyword)) Invalid("must not be static: an engine is an instance holding the weights");
            if (declaration.Modifiers.Any(SyntaxKind.AbstractKeyword)) Invalid("must not be abstract: Load creates an instance of it");
            if (declaration.Modifiers.Any(SyntaxKind.FileKeyword)) Invalid("must not be file-local: the engine is generated into another file");
        }

        var containing = new List<ContainingTypeInfo>();
        for (var parent = declaration.Parent as TypeDeclarationSyntax; parent is not null; parent = parent.Parent as TypeDeclarationSyntax)
        {
            var parentName = parent.Identifier.ValueText;
            if (!parent.Modifiers.Any(SyntaxKind.PartialKeyword))
                Invalid($"is nested in '{parentName}', which is not partial");
            else if (parent.TypeParameterList is not null)
                Invalid($"is nested in the generic type '{parentName}'");
            else if (parent is not ClassDeclarationSyntax and not StructDeclarationSyntax)
                Invalid($"is nested in '{parentName}', which is not a class or struct");
            var keyword = parent is StructDeclarationSyntax ? "struct" : "class";
            containing.Insert(0, new ContainingTypeInfo(keyword, parent.Identifier.Text));
        }

        string? planPath = null;
        LocationInfo? argumentLocation = null;
        // The attributes written on this declaration (the symbol's other partial parts are targets of their own).
        var all = attributes.ToList();
        var here = all.Where(a => a.ApplicationSyntaxReference is { } r
            && r.SyntaxTree == declaration.SyntaxTree && declaration.Span.Contains(r.Span)).ToList();
        if (here.Count > 1)
            problems.Add(DiagnosticInfo.Error(ProblemIds.DuplicateEngineClass,
                $"The class '{name}' carries [SpecializedEngine] {here.Count} times; one class is one engine", classLocation));
        var attribute = here.FirstOrDefault() ?? all.FirstOrDefault();
        if (attribute is not null)
        {
            if (attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is string path)
                planPath = path;
            var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            argumentLocation = LocationInfo.From(syntax?.ArgumentList?.Arguments.FirstOrDefault()?.GetLocation() ?? syntax?.GetLocation())
                ?? classLocation;
        }

        var ns = symbol.ContainingNamespace is { IsGlobalNamespace: false } n
            ? n.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", "")
            : null;
        var fullName = symbol.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
        return new EngineTarget(ns, name, declaration.Identifier.Text, containing.ToEquatableArray(), fullName, planPath,
            argumentLocation, problems.ToEquatableArray());
    }
}
