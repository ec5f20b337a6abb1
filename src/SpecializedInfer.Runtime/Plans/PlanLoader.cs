using SpecializedInfer.Planning;

namespace SpecializedInfer;

/// <summary>A plan file read from disk together with its manifest, resolved into the schedule it means.</summary>
public sealed record LoadedPlan(string PlanPath, string ManifestPath, ModelManifest Manifest, LayerPlan Plan, ExecutionSchedule Schedule, IReadOnlyList<PlanProblem> Warnings)
{
    /// <summary>
    /// Every file the plan was read from, with the text that was checked: the plan, its manifest and the probe
    /// sidecars it names (full paths). What a generated engine is compiled from, and what identifies it.
    /// </summary>
    public IReadOnlyList<SidecarFile> Sources { get; init; } = [];
}

/// <summary>
/// Reads plan and manifest files for run-time consumers (the reference engine, the CLI), with the same checks the
/// generator applies; files are read through <see cref="JsonInputFile"/>, so a device or a huge file is refused.
/// </summary>
public static class PlanLoader
{
    public static LoadedPlan Load(string planPath)
    {
        planPath = Path.GetFullPath(planPath);
        var planText = JsonInputFile.ReadText(planPath);
        var reference = PlanReader.ReadManifestReference(planText);
        if (reference is null)
            throw new PlanException(PlanReader.Read(planText, planPath, manifest: null).Problems.Where(p => p.Severity == ProblemSeverity.Error).ToList());

        var manifestPath = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(planPath)!, reference));
        if (!File.Exists(manifestPath))
            throw new PlanException([new PlanProblem(ProblemIds.ManifestNotFound, ProblemSeverity.Error, $"The manifest '{reference}' was not found at {manifestPath}", planPath, TextRange.Empty)]);
        var manifestText = JsonInputFile.ReadText(manifestPath);
        var manifestResult = ManifestReader.Read(manifestText, manifestPath);
        if (manifestResult.Manifest is null)
            throw new PlanException(manifestResult.Problems.Concat(PlanReader.Read(planText, planPath, manifest: null).Problems)
                .Where(p => p.Severity == ProblemSeverity.Error).ToList());

        var planDirectory = Path.GetDirectoryName(planPath)!;
        var probes = new List<SidecarFile>();
        var result = PlanReader.Read(planText, planPath, manifestResult.Manifest, reference =>
        {
            var path = Path.GetFullPath(Path.Combine(planDirectory, reference));
            if (!File.Exists(path)) return null;
            var probe = new SidecarFile(path, JsonInputFile.ReadText(path));
            probes.Add(probe);
            return probe;
        });
        if (result.Plan is null)
            throw new PlanException(result.Problems.Where(p => p.Severity == ProblemSeverity.Error).ToList());
        return new LoadedPlan(planPath, manifestPath, manifestResult.Manifest, result.Plan,
            ExecutionSchedule.Resolve(result.Plan, manifestResult.Manifest),
            manifestResult.Problems.Concat(result.Problems).Where(p => p.Severity != ProblemSeverity.Error).ToList())
        {
            Sources = [new SidecarFile(planPath, planText), new SidecarFile(manifestPath, manifestText), .. probes.DistinctBy(p => p.Path)],
        };
    }
}
