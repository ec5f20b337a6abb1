namespace SpecializedInfer.Planning;

public enum ProblemSeverity { Error, Warning, Info }

/// <summary>
/// Something wrong (or worth knowing) about a manifest or plan, at a place in its file. The generator, the
/// analyzers, the reference engine and the CLI all report these same problems; <see cref="Id"/> is the
/// diagnostic ID (SI0001...).
/// </summary>
public sealed record PlanProblem(string Id, ProblemSeverity Severity, string Message, string FilePath, TextRange Range)
{
    /// <summary>
    /// For an unknown property close to a known one, the known name, so an editor can offer the rename without
    /// parsing the message.
    /// </summary>
    public string? Suggestion { get; init; }

    public override string ToString() =>
        $"{FilePath}({Range.StartLine + 1},{Range.StartColumn + 1}): {Severity.ToString().ToLowerInvariant()} {Id}: {Message}";
}
