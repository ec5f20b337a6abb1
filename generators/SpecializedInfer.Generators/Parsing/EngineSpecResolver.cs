using System.Collections.Generic;
using System.Linq;
using System.Threading;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Parsing;

/// <summary>
/// Stage 2: a target plus the project's JSON AdditionalFiles become an <see cref="EngineSpec"/>, or null when
/// anything is wrong: the class (SI0007, SI0008), the plan path (SI0006), or any error <see cref="PlanResolution"/>
/// finds. The analyzer reports those same problems from the same code; the generator only stays silent and
/// emits nothing, so a mistake shows as one diagnostic rather than a cascade of errors in generated code.
/// </summary>
public static class EngineSpecResolver
{
    public static EngineSpec? Resolve(EngineTarget target, EquatableArray<JsonFile> files, EquatableArray<string> duplicates,
        GeneratorOptions options, CancellationToken cancellationToken)
    {
        if (target.Problems.Count > 0 || duplicates.Contains(target.FullName)) return null;
        var planFile = PlanResolution.FindPlan(target.PlanPath, files, target.PlanArgumentLocation, out _);
        if (planFile is null) return null;
        var check = PlanResolution.Check(planFile, files, cancellationToken);
        if (check.Schedule is null || check.Manifest is null || check.ManifestReference is null) return null;
        return new EngineSpec(target.Namespace, target.ClassName, target.ClassIdentifier, target.ContainingTypes,
            HintName(target), target.PlanPath!, check.ManifestReference, check.Description, check.Manifest, check.Schedule, options.WeightCopyLimit);
    }

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
