using SpecializedInfer.Planning;

namespace SpecializedInfer;

/// <summary>A manifest or plan file has errors; each problem names its file, line and column.</summary>
public sealed class PlanException(IReadOnlyList<PlanProblem> problems)
    : Exception(string.Join(Environment.NewLine, problems.Select(p => p.ToString())))
{
    public IReadOnlyList<PlanProblem> Problems { get; } = problems;
}
