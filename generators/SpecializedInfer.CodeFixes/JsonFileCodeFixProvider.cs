using System.Collections.Immutable;
using System.Composition;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Text;
using SpecializedInfer.Fixes;

namespace SpecializedInfer.CodeFixes;

/// <summary>
/// Fixes in plan and manifest files where the fix is unambiguous: remove a duplicate index (SI0010), drop an
/// out-of-range index from a list (SI0009), rename a misspelt property to the nearest known one (SI0002). The
/// analyzer attaches the exact edit to the diagnostic (<see cref="FixProperties"/>); diagnostics without one (a
/// duplicate layer inside a 'share' object, an unknown property far from every known name) get no fix.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(JsonFileCodeFixProvider),
    DocumentKinds = new[] { nameof(TextDocumentKind.AdditionalDocument) }, DocumentExtensions = new[] { ".json" })]
[Shared]
public sealed class JsonFileCodeFixProvider : CodeFixProvider
{
    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create(FixProperties.UnknownPropertyId, FixProperties.LayerOutOfRangeId, FixProperties.DuplicateIndexId);

    // Each edit is computed against the file as analyzed; applying several to one file at once would shift the
    // later ones, so there is no fix-all.
    public override FixAllProvider? GetFixAllProvider() => null;

    public override Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!TryGetEdit(diagnostic, out var span, out var expected, out var replacement, out var title)) continue;
            var document = context.TextDocument;
            context.RegisterCodeFix(
                CodeAction.Create(title, ct => ApplyAsync(document, span, expected, replacement, ct), equivalenceKey: diagnostic.Id + ":" + title),
                diagnostic);
        }
        return Task.CompletedTask;
    }

    /// <summary>The edit a diagnostic carries, when it carries a complete one.</summary>
    public static bool TryGetEdit(Diagnostic diagnostic, out TextSpan span, out string expected, out string replacement, out string title)
    {
        span = default;
        expected = replacement = title = "";
        var p = diagnostic.Properties;
        if (!p.TryGetValue(FixProperties.Start, out var startText) || !p.TryGetValue(FixProperties.Length, out var lengthText)
            || !p.TryGetValue(FixProperties.Expected, out var expectedText) || !p.TryGetValue(FixProperties.Replacement, out var replacementText)
            || !p.TryGetValue(FixProperties.Title, out var titleText)
            || !int.TryParse(startText, NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            || !int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out var length)
            || expectedText is null || replacementText is null || titleText is null)
            return false;
        span = new TextSpan(start, length);
        expected = expectedText;
        replacement = replacementText;
        title = titleText;
        return true;
    }

    private static async Task<Solution> ApplyAsync(TextDocument document, TextSpan span, string expected, string replacement, CancellationToken cancellationToken)
    {
        var text = await document.GetTextAsync(cancellationToken).ConfigureAwait(false);
        // The file changed since it was analyzed: leave it alone rather than cut the wrong characters.
        if (span.End > text.Length || text.ToString(span) != expected) return document.Project.Solution;
        var changed = text.WithChanges(new TextChange(span, replacement));
        return document.Project.ContainsAdditionalDocument(document.Id)
            ? document.Project.Solution.WithAdditionalDocumentText(document.Id, changed)
            : document.Project.Solution;
    }
}
