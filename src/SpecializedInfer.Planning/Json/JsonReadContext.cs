using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace SpecializedInfer.Planning.Json;

/// <summary>
/// Typed reads from parsed JSON that record a <see cref="PlanProblem"/> (with the value's position) instead of
/// throwing, so one pass reports every mistake in a file rather than the first. Bounded for hostile files: a mistake
/// repeated word for word is reported once with its count, and past <see cref="InputLimits.MaxProblemsPerFile"/>
/// problems one more says how many were left out.
/// </summary>
public sealed class JsonReadContext
{
    /// <summary>Names and values echoed in messages are cut to this many characters.</summary>
    private const int MaxEchoedLength = 80;

    /// <summary>At least the longest known property name: longer names get no suggestion (see <see cref="CheckProperties"/>).</summary>
    private const int MaxKnownLength = 16;

    private readonly List<PlanProblem> _problems = new();
    private readonly List<int> _counts = new(); // per entry of _problems: how often it was reported
    private readonly Dictionary<(string Id, string Message), int> _indexByMistake = new();
    private int _reported;
    private int _omitted;
    private ProblemSeverity _omittedSeverity = ProblemSeverity.Info;
    private int _errors;

    public JsonReadContext(string filePath) => FilePath = filePath;

    public string FilePath { get; }

    /// <summary>True when an error was reported (including one left out of <see cref="Problems"/> by the caps).</summary>
    public bool HasErrors => _errors > 0;

    public void Report(string id, string message, TextRange range, ProblemSeverity severity = ProblemSeverity.Error) =>
        Report(new PlanProblem(id, severity, message, FilePath, range));

    private void Report(PlanProblem problem)
    {
        if (problem.Severity == ProblemSeverity.Error) _errors++;
        if (_indexByMistake.TryGetValue((problem.Id, problem.Message), out var index))
        {
            _counts[index]++;
            return;
        }
        if (_reported >= InputLimits.MaxProblemsPerFile)
        {
            _omitted++;
            if (problem.Severity < _omittedSeverity) _omittedSeverity = problem.Severity; // Error < Warning < Info
            return;
        }
        _reported++;
        _indexByMistake[(problem.Id, problem.Message)] = _problems.Count;
        _problems.Add(problem);
        _counts.Add(1);
    }

    /// <summary>Problems another reader found in another file (a probe sidecar), kept as that reader reported them.</summary>
    public void Include(IEnumerable<PlanProblem> problems)
    {
        foreach (var p in problems)
        {
            if (p.Severity == ProblemSeverity.Error) _errors++;
            _problems.Add(p);
            _counts.Add(1);
        }
    }

    /// <summary>Every problem reported so far, repeats folded into their first occurrence, and the note on any left out.</summary>
    public IReadOnlyList<PlanProblem> Problems()
    {
        var result = new List<PlanProblem>(_problems.Count + 1);
        for (var i = 0; i < _problems.Count; i++)
            result.Add(_counts[i] == 1 ? _problems[i] : _problems[i] with
            {
                Message = string.Format(CultureInfo.InvariantCulture, "{0} ({1:N0} times in this file; the first is shown)", _problems[i].Message, _counts[i]),
            });
        if (_omitted > 0)
            result.Add(new PlanProblem(ProblemIds.LimitExceeded, _omittedSeverity,
                string.Format(CultureInfo.InvariantCulture, "{0:N0} more problem{1} in this file {2} not listed (at most {3} are)",
                    _omitted, _omitted == 1 ? "" : "s", _omitted == 1 ? "is" : "are", InputLimits.MaxProblemsPerFile),
                FilePath, TextRange.Empty));
        return result.ToEquatableArray();
    }

    /// <summary>A user's name or value as a message quotes it: cut short when it is long.</summary>
    public static string Echo(string text) =>
        text.Length <= MaxEchoedLength ? text : text.Substring(0, MaxEchoedLength - 1) + "\u2026";

    /// <summary>Reports properties not in <paramref name="known"/>, suggesting the nearest known name.</summary>
    public void CheckProperties(JsonObject obj, string what, params string[] known)
    {
        var seen = new HashSet<string>();
        HashSet<string>? present = null;
        foreach (var p in obj.Properties)
        {
            if (!seen.Add(p.Name))
            {
                Report(ProblemIds.UnknownProperty, $"Property '{Echo(p.Name)}' appears twice in {what}", p.NameRange);
                continue;
            }
            if (known.Contains(p.Name)) continue;
            // A name far longer than every known one is close to none of them (and its edit distance would cost its length squared).
            string? nearest = null;
            if (p.Name.Length <= 2 * MaxKnownLength)
            {
                var candidate = known.OrderBy(k => Distance(k.ToLowerInvariant(), p.Name.ToLowerInvariant())).First();
                present ??= new HashSet<string>(obj.Properties.Select(x => x.Name));
                if (Distance(candidate.ToLowerInvariant(), p.Name.ToLowerInvariant()) <= System.Math.Max(2, candidate.Length / 3)
                    && !present.Contains(candidate)) // renaming onto a property already present would only make a duplicate
                    nearest = candidate;
            }
            var hint = nearest is not null ? $"; did you mean '{nearest}'?" : $"; known properties: {string.Join(", ", known)}";
            Report(new PlanProblem(ProblemIds.UnknownProperty, ProblemSeverity.Error, $"Unknown property '{Echo(p.Name)}' in {what}{hint}", FilePath, p.NameRange)
            {
                Suggestion = nearest,
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
        if (InputLimits.CheckText(text) is { } tooLarge)
        {
            Report(ProblemIds.LimitExceeded, tooLarge, TextRange.Empty);
            return null;
        }
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
