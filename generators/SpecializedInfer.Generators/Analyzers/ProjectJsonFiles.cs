using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using SpecializedInfer.Fixes;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Generators.Parsing;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Json;

namespace SpecializedInfer.Generators.Analyzers;

/// <summary>
/// The JSON AdditionalFiles of one compilation, read the way the generator reads them (<see cref="JsonFileReader"/>),
/// and every problem in them, grouped by the file each problem points into. Computed once per compilation on first
/// use: a plan's problems can land in its manifest (size limits) or its probe files, so each file's action reports
/// the share that points into it, and each problem is reported once however many plans lead to it.
/// </summary>
internal sealed class ProjectJsonFiles
{
    private readonly ImmutableArray<AdditionalText> _texts;
    private readonly object _gate = new();
    private IReadOnlyList<JsonFile>? _files;
    private Dictionary<string, List<Diagnostic>>? _byPath;

    public ProjectJsonFiles(ImmutableArray<AdditionalText> texts) => _texts = texts;

    public bool HasPlans => _texts.Any(t => t.Path.EndsWith(PlanReader.Extension, System.StringComparison.OrdinalIgnoreCase));

    public IReadOnlyList<JsonFile> Files(CancellationToken cancellationToken)
    {
        lock (_gate)
            // Not Lazy<T>: a cancelled first read must not be cached as the answer for the whole compilation.
            return _files ??= _texts.Where(JsonFileReader.IsJsonInput)
                .Select(t => JsonFileReader.Read(t, cancellationToken))
                .OrderBy(f => f.NormalizedPath, System.StringComparer.Ordinal)
                .ToList();
    }

    public IReadOnlyList<Diagnostic> DiagnosticsFor(string path, CancellationToken cancellationToken)
    {
        Dictionary<string, List<Diagnostic>> byPath;
        lock (_gate) byPath = _byPath ??= Analyze(cancellationToken);
        return byPath.TryGetValue(path, out var list) ? list : (IReadOnlyList<Diagnostic>)System.Array.Empty<Diagnostic>();
    }

    private Dictionary<string, List<Diagnostic>> Analyze(CancellationToken cancellationToken)
    {
        var files = Files(cancellationToken);
        var problems = new List<DiagnosticInfo>();
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (file.IsManifest)
            {
                if (file.Manifest is { } m) problems.AddRange(m.Problems.Select(DiagnosticInfo.From));
                else problems.Add(Unreadable(file));
            }
            else if (file.IsPlan)
                problems.AddRange(PlanResolution.Check(file, files, cancellationToken).Problems);
            else if (file.Text is { } probeText)
                // Its own structure, even when no plan names it yet; a plan adds the check against the model's width.
                problems.AddRange(ProbeReader.Read(probeText, file.Path, file.Path, dim: 0).Problems.Select(DiagnosticInfo.From));
            else
                problems.Add(Unreadable(file));
        }

        var texts = files.Where(f => f.Text is not null).ToDictionary(f => f.Path, f => f.Text!, System.StringComparer.Ordinal);
        var roots = new Dictionary<string, JsonNode?>(System.StringComparer.Ordinal);
        var byPath = new Dictionary<string, List<Diagnostic>>(System.StringComparer.Ordinal);
        var seen = new HashSet<(string, string, string, int, int)>();
        foreach (var p in problems)
        {
            if (p.Location is not { } at) continue;
            if (!seen.Add((p.Id, p.Message, at.FilePath, at.Span.Start, at.Span.Length))) continue;
            ImmutableDictionary<string, string?>? fix = null;
            if (texts.TryGetValue(at.FilePath, out var text))
            {
                if (!roots.TryGetValue(at.FilePath, out var root)) roots[at.FilePath] = root = JsonParser.Parse(text, out _);
                fix = FixFor(p, text, root);
            }
            if (!byPath.TryGetValue(at.FilePath, out var list)) byPath[at.FilePath] = list = new List<Diagnostic>();
            list.Add(DiagnosticDescriptors.ToDiagnostic(p, at.ToLocation(), fix));
        }
        return byPath;
    }

    private static DiagnosticInfo Unreadable(JsonFile file) =>
        file.ReadProblem is { } why
            ? DiagnosticInfo.Error(ProblemIds.LimitExceeded, why, LocationInfo.From(file.Path, TextRange.Empty))
            : DiagnosticInfo.Error(ProblemIds.JsonSyntax, "The file could not be read", LocationInfo.From(file.Path, TextRange.Empty));

    /// <summary>The one edit that fixes the problem when there is exactly one (see <see cref="FixProperties"/>), else null.</summary>
    internal static ImmutableDictionary<string, string?>? FixFor(DiagnosticInfo p, string text, JsonNode? root)
    {
        if (p.Location is not { } at || root is null) return null;
        var start = at.Span.Start;
        var length = at.Span.Length;
        if (start < 0 || start + length > text.Length) return null;
        switch (p.Id)
        {
            case ProblemIds.UnknownProperty when p.Suggestion is { } name:
                return Edit(FixProperties.Rename, start, length, text.Substring(start, length), "\"" + name + "\"",
                    $"Rename to '{name}'");
            case ProblemIds.DuplicateIndex or ProblemIds.LayerOutOfRange:
            {
                if (FindParentArray(root, start, length) is not { } found) return null;
                var (array, index) = found;
                var item = array.Items[index];
                int from, to;
                if (index + 1 < array.Items.Count) { from = item.Range.Start; to = array.Items[index + 1].Range.Start; }
                else if (index > 0) { var prev = array.Items[index - 1]; from = prev.Range.Start + prev.Range.Length; to = item.Range.Start + item.Range.Length; }
                else { from = item.Range.Start; to = item.Range.Start + item.Range.Length; }
                var value = text.Substring(item.Range.Start, item.Range.Length);
                return Edit(FixProperties.RemoveItem, from, to - from, text.Substring(from, to - from), "",
                    p.Id == ProblemIds.DuplicateIndex ? $"Remove the duplicate {value}" : $"Remove the out-of-range index {value}");
            }
            default:
                return null;
        }
    }

    private static ImmutableDictionary<string, string?> Edit(string kind, int start, int length, string expected, string replacement, string title) =>
        ImmutableDictionary<string, string?>.Empty
            .Add(FixProperties.Kind, kind)
            .Add(FixProperties.Start, start.ToString(CultureInfo.InvariantCulture))
            .Add(FixProperties.Length, length.ToString(CultureInfo.InvariantCulture))
            .Add(FixProperties.Expected, expected)
            .Add(FixProperties.Replacement, replacement)
            .Add(FixProperties.Title, title);

    /// <summary>The array one of whose elements spans exactly [start, +length), and that element's index.</summary>
    private static (JsonArray Array, int Index)? FindParentArray(JsonNode node, int start, int length)
    {
        // Iterative: plans can nest deeply (the fuzzer does), and only containers that span the target are entered.
        var stack = new Stack<JsonNode>();
        stack.Push(node);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (n.Range.Start > start || n.Range.Start + n.Range.Length < start + length) continue;
            switch (n)
            {
                case JsonArray a:
                    for (var i = 0; i < a.Items.Count; i++)
                    {
                        if (a.Items[i].Range.Start == start && a.Items[i].Range.Length == length && a.Items[i] is not JsonArray and not JsonObject) return (a, i);
                        stack.Push(a.Items[i]);
                    }
                    break;
                case JsonObject o:
                    foreach (var prop in o.Properties) stack.Push(prop.Value);
                    break;
            }
        }
        return null;
    }
}
