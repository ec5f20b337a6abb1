using System.Globalization;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Learning.Search;

/// <summary>
/// Exits learned by <c>si learn-exits</c>, as candidates take them: the exit points of its probe plan (learned probes
/// on the model's own head) and, when the model holds the heads, of its heads plan; probe paths already relative to
/// the folder the candidate plans are written to, and the probes themselves.
/// </summary>
public sealed record LearnedExits(IReadOnlyList<ExitPoint> ProbeExits, IReadOnlyList<ExitPoint> HeadExits, IReadOnlyList<LinearProbe> Probes);

/// <summary>
/// The candidates <c>si plan</c> tries, in families (<see cref="CandidateKind"/>), each family ordered by how likely
/// it is to pay; <see cref="Interleave"/> takes from the families in turn so a small budget still tries each.
/// Exit points and skippable layers are the middle of the model: after step 1 up to the step before the last
/// (an exit after the last step saves nothing; the first layer is never skipped).
/// </summary>
public static class SearchSpace
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Never met by a max probability: an exit point that only computes its head, as patience needs before its first vote.</summary>
    private const double NeverExits = 1.01;

    public static IReadOnlyList<IReadOnlyList<PlanCandidate>> Families(string manifest, int layers, IReadOnlyList<int> slebOrder, LearnedExits? learned)
    {
        ArgumentNullException.ThrowIfNull(slebOrder);
        var baseline = LayerPlan.Full(manifest);
        var middle = Enumerable.Range(1, Math.Max(0, layers - 2)).ToList();
        var families = new List<IReadOnlyList<PlanCandidate>>();

        // Exits: every criterion with one threshold, at the deepest middle point alone (most likely to keep quality), at
        // all middle points, then at each other point alone.
        var exits = new List<PlanCandidate>();
        var sets = middle.AsEnumerable().Reverse().Select(s => new List<int> { s }).ToList();
        if (middle.Count > 1) sets.Insert(1, middle);
        foreach (var points in sets)
            foreach (var (criterion, word, start) in new[] { (ExitCriterion.MaxProbability, "maxp", 0.9), (ExitCriterion.Entropy, "entropy", 0.5), (ExitCriterion.StateSaturation, "saturation", 0.97), (ExitCriterion.Margin, "margin", 0.8) })
                exits.Add(Exits($"{word}-{Join(points)}", points.Select(s => new ExitPoint(s, ExitTest.Of(criterion, start))), $"{criterion} exits after {Steps(points)}"));
        if (learned is not null)
        {
            if (learned.ProbeExits.Count > 0) exits.Insert(0, Exits($"probes-{Join(learned.ProbeExits.Select(e => e.AfterStep))}", learned.ProbeExits, $"learned-probe exits after {Steps(learned.ProbeExits.Select(e => e.AfterStep))}", learned.Probes));
            if (learned.HeadExits.Count > 0) exits.Insert(0, Exits($"heads-{Join(learned.HeadExits.Select(e => e.AfterStep))}", learned.HeadExits, $"learned heads and probes after {Steps(learned.HeadExits.Select(e => e.AfterStep))}", learned.Probes));
        }
        families.Add(exits);

        // Sub-layer drops: each attention and each feed-forward alone, middle layers first.
        var subLayer = new List<PlanCandidate>();
        foreach (var l in Enumerable.Range(0, layers).OrderBy(l => l == 0 || l == layers - 1 ? 1 : 0).ThenBy(l => l))
        {
            subLayer.Add(new PlanCandidate($"noattn{l}", CandidateKind.SubLayer, $"layer {l} without attention", baseline with { SkipAttention = new[] { l }.ToArray() }, CandidateCalibration.None));
            subLayer.Add(new PlanCandidate($"noffn{l}", CandidateKind.SubLayer, $"layer {l} without feed-forward", baseline with { SkipFeedForward = new[] { l }.ToArray() }, CandidateCalibration.None));
        }
        families.Add(subLayer);

        // Pruning along SLEB's greedy order: the first k layers it removes.
        families.Add(Enumerable.Range(1, Math.Max(0, Math.Min(slebOrder.Count, layers - 1))).Select(k =>
        {
            var pruned = slebOrder.Take(k).OrderBy(l => l).ToList();
            return new PlanCandidate($"prune{Join(pruned)}", CandidateKind.Prune, $"pruned {string.Join(", ", pruned)} (SLEB's first {k})",
                baseline with { Prune = pruned.ToArray() }, CandidateCalibration.None);
        }).ToList());

        // Skip rules: each middle layer alone, then all of them, with a calibrated cosine threshold.
        var skips = new List<PlanCandidate>();
        var skippable = Enumerable.Range(1, Math.Max(0, layers - 1)).ToList();
        foreach (var group in skippable.Select(l => new List<int> { l }).Concat(skippable.Count > 1 ? [skippable] : []))
            skips.Add(new PlanCandidate($"skip-{Join(group)}", CandidateKind.Skip, $"cosine skip of layer {string.Join(", ", group)}",
                baseline with { Skip = group.Select(l => new SkipRule(l, SkipTest.Cosine, 1)).ToArray() }, CandidateCalibration.SkipThreshold));
        families.Add(skips);

        // Shallower decoding and patience: no threshold to set.
        var fixedDepth = new List<PlanCandidate>();
        for (var depth = layers - 1; depth >= Math.Max(1, layers - 2); depth--)
            fixedDepth.Add(new PlanCandidate($"depth{depth}", CandidateKind.DecodeDepth, $"decode depth {depth}", baseline with { DecodeDepth = depth }, CandidateCalibration.None));
        if (middle.Count >= 2)
            for (var patience = Math.Min(3, middle.Count); patience >= 2; patience--)
            {
                // Patience k needs k exit points with a head up to its own: the earlier ones only compute heads.
                var points = middle.Select((s, i) => i < patience - 1 ? new ExitPoint(s, ExitTest.Of(ExitCriterion.MaxProbability, NeverExits)) : new ExitPoint(s, ExitTest.OfPatience(patience)));
                fixedDepth.Add(new PlanCandidate(string.Create(Inv, $"patience{patience}"), CandidateKind.Patience, string.Create(Inv, $"patience {patience} over exits after {Steps(middle)}"),
                    baseline with { Exits = points.ToArray() }, CandidateCalibration.None));
            }
        families.Add(fixedDepth);
        return families;

        PlanCandidate Exits(string name, IEnumerable<ExitPoint> points, string what, IReadOnlyList<LinearProbe>? probes = null) =>
            new(name, CandidateKind.Exits, what, baseline with { Exits = points.ToArray(), Probes = probes ?? Array.Empty<LinearProbe>() }, CandidateCalibration.ExitStrictness);
    }

    /// <summary>One from each family in turn, then the next from each, until all are taken.</summary>
    public static IEnumerable<PlanCandidate> Interleave(IReadOnlyList<IReadOnlyList<PlanCandidate>> families)
    {
        ArgumentNullException.ThrowIfNull(families);
        for (var i = 0; families.Any(f => i < f.Count); i++)
            foreach (var family in families)
                if (i < family.Count) yield return family[i];
    }

    /// <summary>
    /// A static candidate (pruning, sub-layer drops, decode depth) with <paramref name="exits"/>'s exit points added,
    /// to be calibrated anew: the exits then answer for the whole plan's agreement.
    /// </summary>
    /// <remarks>Exit points past the structure's second-to-last step are dropped (a pruned plan has fewer steps); null when none is left.</remarks>
    public static PlanCandidate? Combine(PlanCandidate structure, PlanCandidate exits, int modelLayers)
    {
        ArgumentNullException.ThrowIfNull(structure);
        ArgumentNullException.ThrowIfNull(exits);
        var steps = ExecutionSchedule.Resolve(structure.Plan, modelLayers).Steps.Count;
        var points = exits.Plan.Exits.Where(e => e.AfterStep <= steps - 2).ToArray();
        if (points.Length == 0) return null;
        return new PlanCandidate($"{structure.Name}+{exits.Name}", CandidateKind.Combined, $"{structure.What}; {exits.What}",
            structure.Plan with { Exits = points, Probes = exits.Plan.Probes }, CandidateCalibration.ExitStrictness);
    }

    private static string Join(IEnumerable<int> values) => string.Join("", values.Select(v => v.ToString(Inv)));

    private static string Steps(IEnumerable<int> steps)
    {
        var list = steps.ToList();
        return (list.Count == 1 ? "step " : "steps ") + string.Join(", ", list.Select(s => s.ToString(Inv)));
    }
}
