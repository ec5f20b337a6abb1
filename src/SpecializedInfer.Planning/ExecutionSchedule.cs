using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Planning;

/// <summary>
/// One executed step: transformer layer <see cref="Layer"/> running with the weights of <see cref="WeightsOf"/>.
/// Each step owns its KV cache slot (a repeated layer attends over its own keys at each repeat). <see cref="Skip"/>:
/// a generated token may skip this step when the rule's test passes (only set on steps generated tokens run).
/// </summary>
public sealed record ScheduleStep(int Index, int Layer, int WeightsOf, ExitPoint? ExitAfter, SkipRule? Skip = null);

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
    /// <summary>Drafting sizes when <see cref="KvFill"/> is <see cref="Planning.KvFill.Lossless"/>; otherwise null.</summary>
    public Speculation? Speculation { get; init; }

    /// <summary>The probes learned tests read, by <see cref="LinearProbe.File"/>.</summary>
    public EquatableArray<LinearProbe> Probes { get; init; } = EquatableArray<LinearProbe>.Empty;

    public IEnumerable<ExitPoint> Exits => Steps.Where(s => s.ExitAfter is not null).Select(s => s.ExitAfter!);

    /// <summary>The probe a learned test names; throws when the plan was read without its sidecars.</summary>
    public LinearProbe Probe(string file) =>
        Probes.FirstOrDefault(p => p.File == file)
        ?? throw new System.InvalidOperationException($"The probe '{file}' was not loaded with the plan (read plans with PlanLoader, which reads probe sidecars).");

    /// <summary>True when some generated token may run fewer steps than the decode depth (exits or skips).</summary>
    public bool HasDynamicDepth => Steps.Any(s => s.ExitAfter is not null || s.Skip is not null);

    /// <summary>Layers whose weights some step reads; every other layer's tensors are never touched.</summary>
    public EquatableArray<int> WeightLayers => Steps.Select(s => s.WeightsOf).Distinct().OrderBy(l => l).ToEquatableArray();

    /// <summary>True when this schedule computes exactly what the unmodified model computes.</summary>
    public bool IsFullModel =>
        Steps.Count == ModelLayers && DecodeDepth == ModelLayers && Steps.All(s => s.Layer == s.Index && s.WeightsOf == s.Index && s.ExitAfter is null && s.Skip is null);

    /// <summary>The schedule of the unmodified model.</summary>
    public static ExecutionSchedule Full(int layers) => new(
        Enumerable.Range(0, layers).Select(l => new ScheduleStep(l, l, l, null)).ToEquatableArray(),
        layers, KvFill.Propagate, EquatableArray<int>.Empty, layers);

    /// <summary>Resolves a plan already validated against <paramref name="manifest"/> (see <see cref="PlanReader"/>).</summary>
    public static ExecutionSchedule Resolve(LayerPlan plan, ModelManifest manifest) => Resolve(plan, manifest.Layers);

    public static ExecutionSchedule Resolve(LayerPlan plan, int modelLayers)
    {
        var layers = StepLayers(plan.Order, new HashSet<int>(plan.Prune), modelLayers);
        var shares = plan.Share.ToDictionary(s => s.Layer, s => s.WeightsOf);
        var exits = plan.Exits.ToDictionary(e => e.AfterStep);
        var skips = plan.Skip.ToDictionary(k => k.Layer);
        var depth = plan.DecodeDepth ?? layers.Count;
        var steps = layers.Select((layer, i) => new ScheduleStep(
            i, layer, shares.TryGetValue(layer, out var w) ? w : layer, exits.TryGetValue(i, out var e) ? e : null,
            i < depth && skips.TryGetValue(layer, out var k) ? k : null));
        return new ExecutionSchedule(steps.ToEquatableArray(), depth, plan.KvFill,
            plan.Prune.OrderBy(l => l).ToEquatableArray(), modelLayers)
        {
            Speculation = plan.KvFill == KvFill.Lossless ? plan.Speculation : null,
            Probes = plan.Probes,
        };
    }

    /// <summary>The layer each step runs: the explicit order, or every unpruned layer in order.</summary>
    public static List<int> StepLayers(IEnumerable<int>? order, ISet<int> pruned, int modelLayers) =>
        order?.ToList() ?? Enumerable.Range(0, modelLayers).Where(l => !pruned.Contains(l)).ToList();

    /// <summary>A one-line summary: "5 steps [0 1 2 2 4], decode depth 3, exit after step 1 (max p ≥ 0.9)".</summary>
    public string Describe()
    {
        var text = $"{Steps.Count} steps [{string.Join(" ", Steps.Select(s => s.WeightsOf == s.Layer ? $"{s.Layer}" : $"{s.Layer}(w{s.WeightsOf})"))}]";
        if (DecodeDepth != Steps.Count) text += $", decode depth {DecodeDepth}";
        foreach (var e in Exits) text += $", exit after step {e.AfterStep} ({e.Test.Describe()}{(e.Head is null ? "" : $", head {e.Head.Output}")})";
        foreach (var s in Steps.Where(s => s.Skip is not null)) text += $", skippable step {s.Index} ({(s.Skip!.Test == SkipTest.Cosine ? "cos" : $"probe {s.Skip.Probe}")} ≥ {s.Skip.Threshold.ToString("R", System.Globalization.CultureInfo.InvariantCulture)})";
        if (KvFill != KvFill.Propagate) text += $", kv {KvFill.ToString().ToLowerInvariant()}";
        if (Speculation is { } sp) text += $", drafts {sp.DraftTokens} tokens with {sp.DraftSteps} steps";
        if (!PrunedLayers.IsEmpty) text += $", pruned {string.Join(" ", PrunedLayers)}";
        return text;
    }
}
