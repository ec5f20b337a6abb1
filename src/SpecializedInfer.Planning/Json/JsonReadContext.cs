using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Planning.Json;

/// <summary>
/// Typed reads from parsed JSON that record a <see cref="PlanProblem"/> (with the value's position) instead of
/// throwing, so one pass reports every mistake in a file rather than the first.
/// </summary>
public sealed class JsonReadContext
{
    private readonly List<PlanProblem> _problems;

    public JsonReadContext(string filePath, List<PlanProblem> problems)
    {
        FilePath = filePath;
        _problems = problems;
    }

    public string FilePath { get; }
    public bool HasErrors => _problems.Any(p => p.Severity == ProblemSeverity.Error);

    public void Report(string id, string message, TextRange range, ProblemSeverity severity = ProblemSeverity.Error) =>
        _problems.Add(new PlanProblem(id, severity, message, FilePath, range));

    /// <summary>Reports properties not in <paramref name="known"/>, suggesting the nearest known name.</summary>
    public void CheckProperties(JsonObject obj, string what, params string[] known)
    {
        var seen = new HashSet<string>();
        foreach (var p in obj.Properties)
        {
            if (!seen.Add(p.Name))
            {
                Report(ProblemIds.UnknownProperty, $"Property '{p.Name}' appears twice in {what}", p.NameRange);
                continue;
            }
            if (known.Contains(p.Name)) continue;
            var nearest = known.OrderBy(k => Distance(k.ToLowerInvariant(), p.Name.ToLowerInvariant())).First();
            var close = Distance(nearest.ToLowerInvariant(), p.Name.ToLowerInvariant()) <= System.Math.Max(2, nearest.Length / 3)
                        && obj.Find(nearest) is null; // renaming onto a property already present would only make a duplicate
            var hint = close ? $"; did you mean '{nearest}'?" : $"; known properties: {string.Join(", ", known)}";
            _problems.Add(new PlanProblem(ProblemIds.UnknownProperty, ProblemSeverity.Error, $"Unknown property '{p.Name}' in {what}{hint}", FilePath, p.NameRange)
            {
                Suggestion = close ? nearest : null,
            });
        }
    }

    public JsonNode? Required(JsonObject obj, string name, string what)
    {
        var p = obj.Find(name);
        if (p is null) Report(ProblemIds.MissingProperty, $"{what} needs the property '{name}'", FirstLine(obj.Range));
        return p?.Value;
    }

    /// <summary>Parses a whole file that must hold one JSON object; a syntax error or another kind of value is reported.</summary>
    public JsonObject? ParseObject(string text, string what)
    {
        var root = JsonParser.Parse(text, out var syntax);
        if (syntax is null) return AsObject(root, what);
        Report(ProblemIds.JsonSyntax, $"JSON syntax error: {syntax.Message}", syntax.Range);
        return null;
    }

    public JsonObject? AsObject(JsonNode? node, string what) => As<JsonObject>(node, JsonKind.Object, what);
    public JsonArray? AsArray(JsonNode? node, string what) => As<JsonArray>(node, JsonKind.Array, what);
    public JsonString? AsString(JsonNode? node, string what) => As<JsonString>(node, JsonKind.String, what);

    public bool? AsBool(JsonNode? node, string what)
    {
        if (node is null) return null;
        if (node.Kind == JsonKind.True) return true;
        if (node.Kind == JsonKind.False) return false;
        Report(ProblemIds.WrongType, $"{what} must be true or false, found {JsonNode.Describe(node.Kind)}", node.Range);
        return null;
    }

    /// <summary>An integer in [min, max]; negative values get their own ID since they are a common slip.</summary>
    public int? AsInt(JsonNode? node, string what, int min = int.MinValue, int max = int.MaxValue, string rangeId = ProblemIds.NonPositiveSize)
    {
        var n = As<JsonNumber>(node, JsonKind.Number, what);
        if (n is null) return null;
        if (!n.IsInteger)
        {
            Report(ProblemIds.WrongType, $"{what} must be a whole number, found {n.Text}", n.Range);
            return null;
        }
        if (n.Value < 0 && min >= 0)
        {
            Report(ProblemIds.NegativeNumber, $"{what} must not be negative, found {n.Text}", n.Range);
            return null;
        }
        if (n.Value < min || n.Value > max)
        {
            Report(rangeId, $"{what} must be between {min} and {max}, found {n.Text}", n.Range);
            return null;
        }
        return (int)n.Value;
    }

    public double? AsDouble(JsonNode? node, string what)
    {
        var n = As<JsonNumber>(node, JsonKind.Number, what);
        return n?.Value;
    }

    private T? As<T>(JsonNode? node, JsonKind kind, string what) where T : JsonNode
    {
        if (node is null) return null;
        if (node is T typed) return typed;
        Report(ProblemIds.WrongType, $"{what} must be {JsonNode.Describe(kind)}, found {JsonNode.Describe(node.Kind)}", node.Range);
        return null;
    }

    /// <summary>A range covering just the first character, for "missing property" problems on a large object.</summary>
    public static TextRange FirstLine(TextRange r) => new(r.Start, r.Length > 0 ? 1 : 0, r.StartLine, r.StartColumn, r.StartLine, r.StartColumn + (r.Length > 0 ? 1 : 0));

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        for (var j = 1; j <= b.Length; j++)
            d[i, j] = System.Math.Min(System.Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
