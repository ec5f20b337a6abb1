using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>The Planning records as C# expressions, so the engine carries the schedule it was compiled from.</summary>
public static class PlanLiterals
{
    /// <summary>An exit point: the short maxProbability-style constructor when the test is a bare threshold and the head the model's.</summary>
    public static string ExitPointLiteral(ExitPoint e) =>
        e.Head is null && e.Test == ExitTest.Of(e.Criterion, e.Threshold)
            ? $"new {Planning}.ExitPoint({e.AfterStep}, {Planning}.ExitCriterion.{e.Criterion}, {Literals.Double(e.Threshold)})"
            : $"new {Planning}.ExitPoint({e.AfterStep}, {ExitTestLiteral(e.Test)}, " +
              (e.Head is { } h ? ExitHeadLiteral(h) + ")" : "null)");

    public static string ExitHeadLiteral(ExitHead h) =>
        $"new {Planning}.ExitHead({Literals.String(h.Norm)}, {Literals.String(h.Output)}" + (h.Adapter is { } a ? $", {ExitAdapterLiteral(a)})" : ")");

    public static string ExitAdapterLiteral(ExitAdapter a) =>
        $"new {Planning}.ExitAdapter({Literals.String(a.Norm)}, {Literals.String(a.Weight)}" + (a.Bias is { } b ? $", {Literals.String(b)})" : ")");

    public static string ExitTestLiteral(ExitTest t)
    {
        var members = t.Members.Count == 0
            ? $"{Array}.Empty<{Planning}.ExitTest>()"
            : $"new {Planning}.ExitTest[] {{ {string.Join(", ", t.Members.Select(ExitTestLiteral))} }}";
        return $"new {Planning}.ExitTest({Planning}.ExitCriterion.{t.Criterion}, {Literals.Double(t.Threshold)}, {t.Patience}, {t.Votes}, {members}, " +
               $"{(t.Probe is null ? "null" : Literals.String(t.Probe))})";
    }

    public static string SkipRuleLiteral(SkipRule k) =>
        $"new {Planning}.SkipRule({k.Layer}, {Planning}.SkipTest.{k.Test}, {Literals.Double(k.Threshold)}, {(k.Probe is null ? "null" : Literals.String(k.Probe))})";

    public static string LayerMergeLiteral(LayerMerge m) => $"new {Planning}.LayerMerge({m.First}, {m.Count})";

    public static string LayerMergesLiteral(IEnumerable<LayerMerge> merges) =>
        $"new {Planning}.LayerMerge[] {{ {string.Join(", ", merges.Select(LayerMergeLiteral))} }}";

    /// <summary>Layer numbers as an <c>int[]</c>.</summary>
    public static string IntArrayLiteral(IEnumerable<int> values)
    {
        var list = values.ToList();
        return list.Count == 0 ? $"{Array}.Empty<int>()" : $"new int[] {{ {string.Join(", ", list)} }}";
    }
}
