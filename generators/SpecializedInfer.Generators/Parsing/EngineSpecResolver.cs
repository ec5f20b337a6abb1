using System.Collections.Generic;
using System.Linq;
using System.Threading;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Parsing;

/// <summary>
/// Stage 2: a target plus the project's JSON AdditionalFiles become an <see cref="EngineSpec"/> when nothing is an
/// error. When the plan path (SI0006) or anything <see cref="PlanResolution"/> checks has an error, the target becomes
/// an <see cref="UnavailableEngine"/> naming the first one: the class still gets the engine's surface, whose members
/// throw, so code using it compiles and the analyzer's diagnostic (from the same checks) is the only error. A class
/// that cannot hold an engine (SI0007, SI0008) gets nothing. The generator itself reports nothing.
/// </summary>
public static class EngineSpecResolver
{
    public static EngineResolution Resolve(EngineTarget target, EquatableArray<JsonFile> files, EquatableArray<string> duplicates,
        GeneratorOptions options, CancellationToken cancellationToken)
    {
        if (target.Problems.Count > 0 || duplicates.Contains(target.FullName)) return EngineResolution.None;
        var planFile = PlanResolution.FindPlan(target.PlanPath, files, target.PlanArgumentLocation, out var notFound);
        if (planFile is null) return Unavailable(target, notFound, encoder: null);
        var check = PlanResolution.Check(planFile, files, cancellationToken);
        if (check.Schedule is null || check.Manifest is null || check.ManifestReference is null) return Unavailable(target, check.Cause, EncoderOf(check));
        return new EngineResolution(new EngineSpec(target.Namespace, target.ClassName, target.ClassIdentifier, target.ContainingTypes,
            HintName(target), target.PlanPath!, check.ManifestReference, check.Description, check.Manifest, check.Schedule, options.WeightCopyLimit), null);
    }

    private static EngineResolution Unavailable(EngineTarget target, DiagnosticInfo? cause, UnavailableEncoder? encoder) =>
        new(null, new UnavailableEngine(target.Namespace, target.ClassName, target.ClassIdentifier, target.ContainingTypes, HintName(target),
            target.PlanPath ?? "", cause?.Id ?? ProblemIds.PlanFileNotFound, cause?.Message ?? "The plan could not be read", encoder));

    /// <summary>
    /// An encoder's placeholder when the manifest says <c>architecture: bert</c> (read raw when the manifest is invalid,
    /// so its sizes are then unknown); null for a decoder's or when no manifest was found.
    /// </summary>
    private static UnavailableEncoder? EncoderOf(PlanCheck check) =>
        check.Architecture != "bert" ? null
        : check.NamedManifest is { Encoder: not null } m ? new UnavailableEncoder(true, m.Dim, m.HiddenDim, m.Heads, m.HeadDim)
        : new UnavailableEncoder(false, 0, 0, 0, 0);

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
