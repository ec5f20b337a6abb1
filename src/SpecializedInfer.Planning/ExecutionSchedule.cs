using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Planning;

/// <summary>
/// One executed step: transformer layer <see cref="Layer"/> running with the weights of <see cref="WeightsOf"/>.
/// Each step owns its KV cache slot (a repeated layer attends over its own keys at each repeat).
/// </summary>
public sealed record ScheduleStep(int Index, int Layer, int WeightsOf, ExitPoint? ExitAfter);

/// <summary>
/// The single meaning of a plan: what runs, in what order, with which weights, how deep generated tokens go and
/// where they may stop. Both executors (the reference engine at run time, the generator at build time) consume
/// this and nothing else.
/// </summary>
public sealed record ExecutionSchedule(
    EquatableArray<ScheduleStep> Steps,
    int DecodeDepth,
    KvFill KvFill,
    EquatableArray<int> PrunedLayers,
    int ModelLayers)
{
    public IEnumerable<ExitPoint> Exits => Steps.Where(s => s.ExitAfter is not null).Select(s => s.ExitAfter!);

    /// <summary>Layers whose weights some step reads; every other layer's tensors are never touched.</summary>
    public EquatableArray<int> WeightLayers => Steps.Select(s => s.WeightsOf).Distinct().OrderBy(l => l).ToEquatableArray();

    /// <summary>True when this schedule computes exactly what the unmodified model computes.</summary>
    public bool IsFullModel =>
        Steps.Count == ModelLayers && DecodeDepth == ModelLayers && Steps.All(s => s.Layer == s.Index && s.WeightsOf == s.Index && s.ExitAfter is null);

    /// <summary>The schedule of the unmodified model.</summary>
    public static ExecutionSchedule Full(int layers) => new(
        Enumerable.Range(0, layers).Select(l => new ScheduleStep(l, l, l, null)).ToEquatableArray(),
        layers, KvFill.Propagate, EquatableArray<int>.Empty, layers);

    /// <summary>Resolves a plan already validated against <paramref name="manifest"/> (see <see cref="PlanReader"/>).</summary>
    public static ExecutionSchedule Resolve(LayerPlan plan, ModelManifest manifest) => Resolve(plan, manifest.Layers);

    public static ExecutionSchedule Resolve(LayerPlan plan, int modelLayers)
    {
        var pruned = new HashSet<int>(plan.Prune);
        var layers = plan.Order?.ToList() ?? Enumerable.Range(0, modelLayers).Where(l => !pruned.Contains(l)).ToList();
        var shares = plan.Share.ToDictionary(s => s.Layer, s => s.WeightsOf);
        var exits = plan.Exits.ToDictionary(e => e.AfterStep);
        var steps = layers.Select((layer, i) => new ScheduleStep(
            i, layer, shares.TryGetValue(layer, out var w) ? w : layer, exits.TryGetValue(i, out var e) ? e : null));
        return new ExecutionSchedule(steps.ToEquatableArray(), plan.DecodeDepth ?? layers.Count, plan.KvFill,
            plan.Prune.OrderBy(l => l).ToEquatableArray(), modelLayers);
    }

    /// <summary>A one-line summary: "5 steps [0 1 2 2 4], decode depth 3, exit after step 1 (p≥0.9)".</summary>
    public string Describe()
    {
        var text = $"{Steps.Count} steps [{string.Join(" ", Steps.Select(s => s.WeightsOf == s.Layer ? $"{s.Layer}" : $"{s.Layer}(w{s.WeightsOf})"))}]";
        if (DecodeDepth != Steps.Count) text += $", decode depth {DecodeDepth}";
        foreach (var e in Exits) text += $", exit after step {e.AfterStep} ({e.Criterion} ≥ {e.Threshold.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
        if (!PrunedLayers.IsEmpty) text += $", pruned {string.Join(" ", PrunedLayers)}";
        return text;
    }
}
