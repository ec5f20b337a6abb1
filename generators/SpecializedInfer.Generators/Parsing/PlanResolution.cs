using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Json;

namespace SpecializedInfer.Generators.Parsing;

/// <summary>
/// One plan file checked against the project's other JSON AdditionalFiles: its manifest (SI0005), its probe
/// sidecars (SI0023), every plan problem, the generator's size limits (SI0028) and the cost hint (SI0030).
/// <see cref="Schedule"/> is set only when nothing is an error.
/// </summary>
public sealed record PlanCheck(string? ManifestReference, ModelManifest? Manifest, ExecutionSchedule? Schedule, string? Description,
    EquatableArray<DiagnosticInfo> Problems)
{
    /// <summary>
    /// Without a schedule, the error that stops it: the first of <see cref="Problems"/>, or the manifest's own first
    /// error (reported against the manifest file, so not repeated among the plan's problems).
    /// </summary>
    public DiagnosticInfo? Cause { get; init; }

    /// <summary>
    /// The manifest's <c>architecture</c> when its file was found, even when it or the plan has an error: which engine's
    /// surface (decoder or encoder) the class keeps until the error is fixed.
    /// </summary>
    public string? Architecture { get; init; }

    /// <summary>That manifest when it is valid, even when the plan has an error (a placeholder's sizes come from it).</summary>
    public ModelManifest? NamedManifest { get; init; }
}

/// <summary>
/// The lookups and checks the generator and the analyzer share, so they cannot disagree about whether a plan is
/// valid: the analyzer reports <see cref="PlanCheck.Problems"/>, the generator emits an engine exactly when
/// <see cref="PlanCheck.Schedule"/> is set. Never throws (except on cancellation).
/// </summary>
public static class PlanResolution
{
    /// <summary>Schedules longer than this are refused: real models have tens of layers, and each step is a method.</summary>
    public const int MaxSteps = 1024;

    /// <summary>The plan file an attribute names, or null with the SI0006 problem saying why.</summary>
    public static JsonFile? FindPlan(string? planPath, IEnumerable<JsonFile> files, LocationInfo? at, out DiagnosticInfo? problem)
    {
        problem = null;
        var planFile = string.IsNullOrWhiteSpace(planPath) ? null : PathMatching.FindBySuffix(files, planPath!);
        if (planFile is { Readable: true, IsPlan: true, Text: not null }) return planFile;
        var why = planFile is { ReadProblem: not null } ? "was not read: it is over the size limit (SI0037)"
            : planFile is { Readable: false } ? "could not be read"
            : planFile is { IsManifest: true } ? "is a model manifest, not a plan"
            : planFile is { IsProbe: true } ? "is a probe sidecar, not a plan"
            : $"is not among the project's AdditionalFiles; add it with <AdditionalFiles Include=\"{planPath}\" />";
        problem = DiagnosticInfo.Error(ProblemIds.PlanFileNotFound,
            string.IsNullOrWhiteSpace(planPath)
                ? "[SpecializedEngine] needs the path of a *.plan.json file listed in AdditionalFiles"
                : $"The plan file '{planPath}' {why}",
            at);
        return null;
    }

    public static PlanCheck Check(JsonFile planFile, IReadOnlyList<JsonFile> files, CancellationToken cancellationToken)
    {
        var problems = new List<DiagnosticInfo>();
        JsonFile? namedManifest = null;
        PlanCheck Fail(string? reference = null, ModelManifest? manifest = null, DiagnosticInfo? cause = null) =>
            new(reference, manifest, null, null, problems.ToEquatableArray())
            {
                Cause = problems.FirstOrDefault(p => p.Severity == ProblemSeverity.Error) ?? cause,
                Architecture = namedManifest?.Architecture,
                NamedManifest = namedManifest?.Manifest?.Manifest,
            };
        cancellationToken.ThrowIfCancellationRequested();
        if (planFile.Text is not { } planText)
        {
            problems.Add(planFile.ReadProblem is { } why
                ? DiagnosticInfo.Error(ProblemIds.LimitExceeded, why, LocationInfo.From(planFile.Path, TextRange.Empty))
                : DiagnosticInfo.Error(ProblemIds.JsonSyntax, "The plan file could not be read", LocationInfo.From(planFile.Path, TextRange.Empty)));
            return Fail();
        }

        var reference = PlanReader.ReadManifestReference(planText);
        namedManifest = NamedManifest(planFile, planText, reference, files);
        if (reference is null)
        {
            // Syntax errors, a missing or mistyped "manifest": the structural read says where.
            problems.AddRange(PlanReader.Read(planText, planFile.Path, manifest: null).Problems.Select(DiagnosticInfo.From));
            if (!problems.Any(d => d.Severity == ProblemSeverity.Error))
                problems.Add(DiagnosticInfo.Error(ProblemIds.MissingProperty, "A layer plan needs the property 'manifest'", LocationInfo.From(planFile.Path, TextRange.Empty)));
            return Fail();
        }
        var manifestPath = PathMatching.ResolveRelativeToPlan(planFile.NormalizedPath, reference);
        var manifestFile = PathMatching.FindExact(files.Where(f => f.IsManifest), manifestPath);
        if (manifestFile is null || !manifestFile.Readable || manifestFile.Manifest is null)
        {
            problems.Add(DiagnosticInfo.Error(ProblemIds.ManifestNotFound,
                manifestFile is { ReadProblem: not null }
                    ? $"The manifest '{reference}' was not read: it is over the size limit (SI0037)"
                    : manifestFile is { Readable: false }
                    ? $"The manifest '{reference}' could not be read"
                    : $"The manifest '{reference}' (resolved to {manifestPath}) is not among the project's AdditionalFiles; manifests end in {ManifestReader.Extension} and sit relative to the plan file",
                LocationInfo.From(planFile.Path, ManifestValueRange(planText))));
            return Fail(reference);
        }
        // An invalid manifest has its errors reported once, against the manifest file itself; repeating them per
        // plan would be the cascade the diagnostics exist to avoid.
        if (manifestFile.Manifest.Manifest is not { } manifest)
            return Fail(reference, cause: manifestFile.Manifest.Problems.Where(p => p.Severity == ProblemSeverity.Error).Select(DiagnosticInfo.From).FirstOrDefault());

        cancellationToken.ThrowIfCancellationRequested();
        var read = PlanReader.Read(planText, planFile.Path, manifest, probeReference =>
        {
            var probePath = PathMatching.ResolveRelativeToPlan(planFile.NormalizedPath, probeReference);
            var probeFile = PathMatching.FindExact(files.Where(f => f.IsProbe && f.Readable), probePath);
            return probeFile?.Text is null ? null : new SidecarFile(probeFile.Path, probeFile.Text);
        });
        problems.AddRange(read.Problems.Select(DiagnosticInfo.From));
        if (read.Plan is null || read.Problems.Any(p => p.Severity == ProblemSeverity.Error)) return Fail(reference, manifest);

        var schedule = ExecutionSchedule.Resolve(read.Plan, manifest);
        var root = JsonParser.Parse(planText, out _) as JsonObject;
        // An encoder runs static depth and embeddingCosine exits only: the rest of a plan has nothing to act on (SI0032).
        if (manifest.Encoder is not null && EncoderPlanRules.Unsupported(schedule, out var property) is { } unsupported)
        {
            var node = root?.Find(property);
            problems.Add(DiagnosticInfo.Error(ProblemIds.UnsupportedArchitecture, unsupported.TrimEnd('.'),
                LocationInfo.From(planFile.Path, node?.NameRange ?? TextRange.Empty)));
            return Fail(reference, manifest);
        }
        if (!CheckLimits(schedule, manifest, manifestFile, planFile, root, problems)) return Fail(reference, manifest);
        CheckExitCosts(schedule, manifest, planFile, root, problems);

        var description = root?.Find("description")?.Value is JsonString d ? d.Value : null;
        return new PlanCheck(reference, manifest, schedule, description, problems.ToEquatableArray()) { Architecture = manifest.Architecture, NamedManifest = manifest };
    }

    /// <summary>Sizes the emitted code cannot represent: tensors past int indexing, absurdly long schedules (SI0028).</summary>
    private static bool CheckLimits(ExecutionSchedule schedule, ModelManifest m, JsonFile manifestFile, JsonFile planFile, JsonObject? root, List<DiagnosticInfo> problems)
    {
        var ok = true;
        LocationInfo At(string property) => LocationInfo.From(manifestFile.Path,
            manifestFile.ManifestProperties.FirstOrDefault(p => p.Name == property)?.Range ?? TextRange.Empty);
        if (schedule.Steps.Count > MaxSteps)
        {
            var orderRange = root?.Find("order")?.Value.Range;
            problems.Add(DiagnosticInfo.Error(ProblemIds.NonPositiveSize,
                $"The schedule has {schedule.Steps.Count} steps; a generated engine supports at most {MaxSteps}",
                orderRange is { } r ? LocationInfo.From(planFile.Path, r) : At("layers")));
            ok = false;
        }
        foreach (var (property, rows, cols) in new[]
                 {
                     ("vocabSize", (long)m.VocabSize, (long)m.Dim), ("hiddenDim", m.HiddenDim, m.Dim), ("dim", m.Dim, m.Dim),
                     ("heads", m.QueryDim, m.Dim), ("kvHeads", m.KvDim, m.Dim),
                 })
        {
            if (rows * cols <= int.MaxValue) continue;
            problems.Add(DiagnosticInfo.Error(ProblemIds.NonPositiveSize,
                $"A {rows}×{cols} weight matrix has {rows * cols} elements, more than one tensor can index ({int.MaxValue})", At(property)));
            ok = false;
            break;
        }
        return ok;
    }

    /// <summary>Multiply-adds one generated token spends in one layer's matrices (attention over the cache left out: it only adds to the layer).</summary>
    public static long LayerCost(ModelManifest m) =>
        (long)m.Dim * (m.QueryDim + 2L * m.KvDim) + (long)m.QueryDim * m.Dim + 3L * m.Dim * m.HiddenDim;

    /// <summary>Multiply-adds of the logits an exit head computes (the output matrix; the norm is negligible).</summary>
    public static long HeadCost(ModelManifest m) => (long)m.Dim * m.VocabSize;

    /// <summary>
    /// SI0030 (info): an exit point that computes head logits costs that much for every token reaching it, and saves
    /// at most the layers after it; when the head alone costs more than all of them, no exit rate can make it pay.
    /// </summary>
    private static void CheckExitCosts(ExecutionSchedule schedule, ModelManifest m, JsonFile planFile, JsonObject? root, List<DiagnosticInfo> problems)
    {
        var head = HeadCost(m);
        var layer = LayerCost(m);
        foreach (var exit in schedule.Exits.Where(e => e.NeedsHead))
        {
            var skippable = schedule.DecodeDepth - 1 - exit.AfterStep;
            var saved = skippable * layer;
            if (head <= saved) continue;
            var node = root?.Find("exits")?.Value is JsonArray a
                ? a.Items.OfType<JsonObject>().FirstOrDefault(o => o.Find("afterStep")?.Value is JsonNumber n && n.Value == exit.AfterStep)?.Find("afterStep")?.Value
                : null;
            problems.Add(new DiagnosticInfo(ProblemIds.ExitHeadTooCostly, ProblemSeverity.Info,
                string.Format(CultureInfo.InvariantCulture,
                    "The exit after step {0} computes head logits ({1:N0} multiply-adds per token), more than the {2} step{3} it can skip cost ({4:N0}): it can never pay for itself; move it earlier or use a head-free criterion (stateSaturation, learned)",
                    exit.AfterStep, head, skippable, skippable == 1 ? "" : "s", saved),
                LocationInfo.From(planFile.Path, node?.Range ?? TextRange.Empty)));
        }
    }

    /// <summary>
    /// The manifest file a plan names, or null. A plan that does not parse (a syntax error while it is being edited) is
    /// scanned for its <c>"manifest"</c> property as text: only to choose which engine's surface the class keeps
    /// (<see cref="PlanCheck.Architecture"/>), never to read the plan.
    /// </summary>
    private static JsonFile? NamedManifest(JsonFile planFile, string planText, string? reference, IReadOnlyList<JsonFile> files)
    {
        reference ??= ManifestProperty.Match(planText) is { Success: true } m ? m.Groups[1].Value : null;
        if (reference is null) return null;
        var path = PathMatching.ResolveRelativeToPlan(planFile.NormalizedPath, reference);
        return PathMatching.FindExact(files.Where(f => f.IsManifest), path);
    }

    private static readonly Regex ManifestProperty = new("\"manifest\"\\s*:\\s*\"([^\"\\\\]*)\"", RegexOptions.CultureInvariant);

    private static TextRange ManifestValueRange(string planText) =>
        JsonParser.Parse(planText, out _) is JsonObject o && o.Find("manifest") is { } p ? p.Value.Range : TextRange.Empty;
}
