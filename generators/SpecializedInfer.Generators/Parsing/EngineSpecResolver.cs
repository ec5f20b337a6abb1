using System.Collections.Generic;
using System.Linq;
using System.Threading;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Json;

namespace SpecializedInfer.Generators.Parsing;

/// <summary>
/// Stage 2: a target plus the project's JSON AdditionalFiles become an <see cref="EngineSpec"/>: the plan file
/// found (SI0006), its manifest found beside it (SI0005) and valid, the plan read and checked against the
/// manifest (SI0001-SI0033 at their line and column), and the result resolved into the one schedule it means.
/// Any error leaves the class without an engine. Never throws.
/// </summary>
public static class EngineSpecResolver
{
    /// <summary>Schedules longer than this are refused: real models have tens of layers, and each step is a method.</summary>
    public const int MaxSteps = 1024;

    public static EngineResult Resolve(EngineTarget target, EquatableArray<JsonFile> files, EquatableArray<string> duplicates,
        GeneratorOptions options, CancellationToken cancellationToken)
    {
        var diagnostics = new List<DiagnosticInfo>(target.Problems);
        EngineResult Fail() => new(null, diagnostics.ToEquatableArray());

        if (duplicates.Contains(target.FullName))
            diagnostics.Add(DiagnosticInfo.Error(ProblemIds.DuplicateEngineClass,
                $"More than one [SpecializedEngine] attribute targets the class '{target.FullName.Replace("global::", "")}'; one class is one engine",
                target.PlanArgumentLocation));
        if (diagnostics.Count > 0) return Fail();

        // The plan file, among the AdditionalFiles.
        var planFile = string.IsNullOrWhiteSpace(target.PlanPath) ? null : PathMatching.FindBySuffix(files, target.PlanPath!);
        if (planFile is null || !planFile.Readable || !planFile.IsPlan || planFile.Text is null)
        {
            var why = planFile is { Readable: false } ? "could not be read" : planFile is { IsManifest: true } ? "is a model manifest, not a plan" : planFile is { IsProbe: true } ? "is a probe sidecar, not a plan" : "is not among the project's AdditionalFiles";
            diagnostics.Add(DiagnosticInfo.Error(ProblemIds.PlanFileNotFound,
                string.IsNullOrWhiteSpace(target.PlanPath)
                    ? "[SpecializedEngine] needs the path of a *.plan.json file listed in AdditionalFiles"
                    : $"The plan file '{target.PlanPath}' {why}; add it with <AdditionalFiles Include=\"{target.PlanPath}\" />",
                target.PlanArgumentLocation));
            return Fail();
        }
        var planText = planFile.Text;
        cancellationToken.ThrowIfCancellationRequested();

        // The manifest it names, beside it.
        var reference = PlanReader.ReadManifestReference(planText);
        if (reference is null)
        {
            // Syntax errors, a missing or mistyped "manifest": the structural read says where.
            diagnostics.AddRange(PlanReader.Read(planText, planFile.Path, manifest: null).Problems.Select(DiagnosticInfo.From));
            if (!diagnostics.Any(d => d.Severity == ProblemSeverity.Error))
                diagnostics.Add(DiagnosticInfo.Error(ProblemIds.MissingProperty, "A layer plan needs the property 'manifest'", LocationInfo.From(planFile.Path, TextRange.Empty)));
            return Fail();
        }
        var manifestPath = PathMatching.ResolveRelativeToPlan(planFile.NormalizedPath, reference);
        var manifestFile = PathMatching.FindExact(files.Where(f => f.IsManifest), manifestPath);
        if (manifestFile is null || !manifestFile.Readable || manifestFile.Manifest is null)
        {
            diagnostics.Add(DiagnosticInfo.Error(ProblemIds.ManifestNotFound,
                manifestFile is { Readable: false }
                    ? $"The manifest '{reference}' could not be read"
                    : $"The manifest '{reference}' (resolved to {manifestPath}) is not among the project's AdditionalFiles; manifests end in {ManifestReader.Extension} and sit relative to the plan file",
                LocationInfo.From(planFile.Path, ManifestValueRange(planText))));
            return Fail();
        }
        var manifest = manifestFile.Manifest.Manifest;
        if (manifest is null) return Fail(); // its errors are reported once, against the manifest file itself

        // The plan, checked against the manifest.
        var read = PlanReader.Read(planText, planFile.Path, manifest, probeReference =>
        {
            var probePath = PathMatching.ResolveRelativeToPlan(planFile.NormalizedPath, probeReference);
            var probeFile = PathMatching.FindExact(files.Where(f => f.IsProbe && f.Readable), probePath);
            return probeFile?.Text is null ? null : new SidecarFile(probeFile.Path, probeFile.Text);
        });
        diagnostics.AddRange(read.Problems.Select(DiagnosticInfo.From));
        if (read.Plan is null || read.Problems.Any(p => p.Severity == ProblemSeverity.Error)) return Fail();

        var schedule = ExecutionSchedule.Resolve(read.Plan, manifest);
        if (!CheckLimits(schedule, manifest, manifestFile, planFile, planText, diagnostics)) return Fail();

        var description = JsonParser.Parse(planText, out _) is JsonObject o && o.Find("description")?.Value is JsonString d ? d.Value : null;
        var spec = new EngineSpec(target.Namespace, target.ClassName, target.ClassIdentifier, target.ContainingTypes,
            HintName(target), target.PlanPath!, reference, description, manifest, schedule, options.WeightCopyLimit);
        return new EngineResult(spec, diagnostics.ToEquatableArray());
    }

    /// <summary>Sizes the emitted code cannot represent: tensors past int indexing, absurdly long schedules (SI0028).</summary>
    private static bool CheckLimits(ExecutionSchedule schedule, ModelManifest m, JsonFile manifestFile, JsonFile planFile, string planText, List<DiagnosticInfo> diagnostics)
    {
        var ok = true;
        LocationInfo At(string property) => LocationInfo.From(manifestFile.Path,
            manifestFile.ManifestProperties.FirstOrDefault(p => p.Name == property)?.Range ?? TextRange.Empty);
        if (schedule.Steps.Count > MaxSteps)
        {
            var orderRange = JsonParser.Parse(planText, out _) is JsonObject o && o.Find("order")?.Value is { } order ? order.Range : (TextRange?)null;
            diagnostics.Add(DiagnosticInfo.Error(ProblemIds.NonPositiveSize,
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
            diagnostics.Add(DiagnosticInfo.Error(ProblemIds.NonPositiveSize,
                $"A {rows}×{cols} weight matrix has {rows * cols} elements, more than one tensor can index ({int.MaxValue})", At(property)));
            ok = false;
            break;
        }
        return ok;
    }

    private static TextRange ManifestValueRange(string planText) =>
        JsonParser.Parse(planText, out _) is JsonObject o && o.Find("manifest") is { } p ? p.Value.Range : TextRange.Empty;

    /// <summary><c>Namespace.Outer.Class.g.cs</c>, without verbatim '@' prefixes.</summary>
    public static string HintName(EngineTarget t)
    {
        var parts = new List<string>();
        if (t.Namespace is not null) parts.Add(t.Namespace.Replace("@", ""));
        parts.AddRange(t.ContainingTypes.Select(c => c.Name.TrimStart('@')));
        parts.Add(t.ClassName);
        return string.Join(".", parts) + ".g.cs";
    }

    /// <summary>Full names targeted more than once (a partial class with the attribute on two of its parts).</summary>
    public static EquatableArray<string> Duplicates(IEnumerable<EngineTarget> targets) =>
        targets.GroupBy(t => t.FullName).Where(g => g.Count() > 1).Select(g => g.Key).OrderBy(k => k, System.StringComparer.Ordinal).ToEquatableArray();
}
