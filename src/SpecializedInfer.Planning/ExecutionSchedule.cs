using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Planning;

/// <summary>
/// One executed step: transformer layer <see cref="Layer"/> running with the weights of <see cref="WeightsOf"/>.
/// Each step owns its KV cache slot (a repeated layer attends over its own keys at each repeat). <see cref="Skip"/>:
/// a generated token may skip this step when the rule's test passes (only set on steps generated tokens run).
/// </summary>
public sealed record ScheduleStep(int Index, int Layer, int WeightsOf, ExitPoint? ExitAfter, SkipRule? Skip = null)
{
    /// <summary>False when the plan drops this step's attention (<c>skipAttention</c>): the residual stream passes it unchanged.</summary>
    public bool RunsAttention { get; init; } = true;

    /// <summary>False when the plan drops this step's feed-forward (<c>skipFeedForward</c>).</summary>
    public bool RunsFeedForward { get; init; } = true;

    /// <summary>
    /// Whether the step has a KV cache slot. A dropped attention is dropped for every position (prompt, generated,
    /// drafted, recomputed), so its keys and values would have no reader: such a step stores nothing, whether it runs,
    /// is skipped, is propagated into or catches up (docs/plans.md, "Sub-layer pruning").
    /// </summary>
    public bool HasKvCache => RunsAttention;
}

/// <summary>
/// The single meaning of a plan: what runs, in what order, with which weights, how deep generated tokens go and
/// where they may stop. Both executors (the reference engine at run time, the generator at build time) consume
/// this and nothing else.
/// </summary>
public sealed record ExecutionSchedule(
    IReadOnlyList<ScheduleStep> Steps,
    int DecodeDepth,
    KvFill KvFill,
    IReadOnlyList<int> PrunedLayers,
    int ModelLayers)
{
    // The lists live in equatable fields, so schedules with the same content are equal (the generator caches on it).
    private readonly EquatableArray<ScheduleStep> _steps = Steps.ToEquatableArray();
    private readonly EquatableArray<int> _prunedLayers = PrunedLayers.ToEquatableArray();
    private readonly EquatableArray<LayerMerge> _merges = EquatableArray<LayerMerge>.Empty;
    private readonly EquatableArray<LinearProbe> _probes = EquatableArray<LinearProbe>.Empty;

    public IReadOnlyList<ScheduleStep> Steps { get => _steps; init => _steps = value.ToEquatableArray(); }

    /// <summary>Layers the plan prunes, ascending.</summary>
    public IReadOnlyList<int> PrunedLayers { get => _prunedLayers; init => _prunedLayers = value.ToEquatableArray(); }

    /// <summary>Drafting sizes when <see cref="KvFill"/> is <see cref="Planning.KvFill.Lossless"/>; otherwise null.</summary>
    public Speculation? Speculation { get; init; }

    /// <summary>LaCo merges: steps running with the weights of a merge's first layer read the merged weights.</summary>
    public IReadOnlyList<LayerMerge> Merges { get => _merges; init => _merges = value.ToEquatableArray(); }

    /// <summary>True when some step drops its attention or its feed-forward.</summary>
    public bool HasSubLayerPruning => Steps.Any(s => !s.RunsAttention || !s.RunsFeedForward);

    /// <summary>The merge whose weights layer <paramref name="layer"/> runs with, or null.</summary>
    public LayerMerge? MergeInto(int layer) => Merges.FirstOrDefault(m => m.First == layer);

    /// <summary>Layers whose tensors must be read: <see cref="WeightLayers"/> and every layer a merge reads.</summary>
    public IReadOnlyList<int> LoadedLayers =>
        WeightLayers.Concat(Merges.Where(m => WeightLayers.Contains(m.First)).SelectMany(m => m.Sources)).Distinct().OrderBy(l => l).ToEquatableArray();

    /// <summary>The probes learned tests read, by <see cref="LinearProbe.File"/>.</summary>
    public IReadOnlyList<LinearProbe> Probes { get => _probes; init => _probes = value.ToEquatableArray(); }

    public IEnumerable<ExitPoint> Exits => Steps.Where(s => s.ExitAfter is not null).Select(s => s.ExitAfter!);

    /// <summary>The probe a learned test names; throws when the plan was read without its sidecars.</summary>
    public LinearProbe Probe(string file) =>
        Probes.FirstOrDefault(p => p.File == file)
        ?? throw new System.InvalidOperationException($"The probe '{file}' was not loaded with the plan (read plans with PlanLoader, which reads probe sidecars).");

    /// <summary>True when some generated token may run fewer steps than the decode depth (exits or skips).</summary>
    public bool HasDynamicDepth => Steps.Any(s => s.ExitAfter is not null || s.Skip is not null);

    /// <summary>Layers whose weights some step reads; every other layer's tensors are never touched.</summary>
    public IReadOnlyList<int> WeightLayers => Steps.Select(s => s.WeightsOf).Distinct().OrderBy(l => l).ToEquatableArray();

    /// <summary>True when this schedule computes exactly what the unmodified model computes.</summary>
    public bool IsFullModel =>
        Steps.Count == ModelLayers && DecodeDepth == ModelLayers && Merges.Count == 0
        && Steps.All(s => s.Layer == s.Index && s.WeightsOf == s.Index && s.ExitAfter is null && s.Skip is null && s.RunsAttention && s.RunsFeedForward);

    /// <summary>The schedule of the unmodified model.</summary>
    public static ExecutionSchedule Full(int layers) => new(
        Enumerable.Range(0, layers).Select(l => new ScheduleStep(l, l, l, null)).ToEquatableArray(),
        layers, KvFill.Propagate, EquatableArray<int>.Empty, layers);

    /// <summary>Resolves a plan already validated against <paramref name="manifest"/> (see <see cref="PlanReader"/>).</summary>
    public static ExecutionSchedule Resolve(LayerPlan plan, ModelManifest manifest) => Resolve(plan, manifest.Layers);

    public static ExecutionSchedule Resolve(LayerPlan plan, int modelLayers)
    {
        var layers = StepLayers(plan.Order, new HashSet<int>(plan.Prune.Concat(plan.Merge.SelectMany(m => m.Absorbed))), modelLayers);
        var noAttention = new HashSet<int>(plan.SkipAttention);
        var noFeedForward = new HashSet<int>(plan.SkipFeedForward);
        var shares = plan.Share.ToDictionary(s => s.Layer, s => s.WeightsOf);
        var exits = plan.Exits.ToDictionary(e => e.AfterStep);
        var skips = plan.Skip.ToDictionary(k => k.Layer);
        var depth = plan.DecodeDepth ?? layers.Count;
        var steps = layers.Select((layer, i) => new ScheduleStep(
            i, layer, shares.TryGetValue(layer, out var w) ? w : layer, exits.TryGetValue(i, out var e) ? e : null,
            i < depth && skips.TryGetValue(layer, out var k) ? k : null)
        {
            RunsAttention = !noAttention.Contains(layer),
            RunsFeedForward = !noFeedForward.Contains(layer),
        });
        return new ExecutionSchedule(steps.ToEquatableArray(), depth, plan.KvFill,
            plan.Prune.OrderBy(l => l).ToEquatableArray(), modelLayers)
        {
            Merges = plan.Merge.OrderBy(m => m.First).ToEquatableArray(),
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
        var text = $"{Steps.Count} steps [{string.Join(" ", Steps.Select(DescribeStep))}]";
        if (DecodeDepth != Steps.Count) text += $", decode depth {DecodeDepth}";
        foreach (var e in Exits) text += $", exit after step {e.AfterStep} ({e.Test.Describe()}{(e.Head is null ? "" : $", head {(e.Head.Adapter is { } a ? a.Weight + " + " : "")}{e.Head.Output}")})";
        foreach (var s in Steps.Where(s => s.Skip is not null)) text += $", skippable step {s.Index} ({(s.Skip!.Test == SkipTest.Cosine ? "cos" : $"probe {s.Skip.Probe}")} ≥ {s.Skip.Threshold.ToString("R", System.Globalization.CultureInfo.InvariantCulture)})";
        if (KvFill != KvFill.Propagate) text += $", kv {KvFill.ToString().ToLowerInvariant()}";
        if (Speculation is { } sp) text += $", drafts {sp.DraftTokens} tokens with {sp.DraftSteps} steps";
        if (PrunedLayers.Count > 0) text += $", pruned {string.Join(" ", PrunedLayers)}";
        foreach (var m in Merges) text += $", merged {m.First}-{m.First + m.Count - 1} into {m.First}";
        return text;
    }

    /// <summary>"2", "4(w2)", "3(-attn)", "1(w0,-ffn)": the layer, the weights it borrows and the sub-layers it drops.</summary>
    private static string DescribeStep(ScheduleStep s)
    {
        var notes = new List<string>();
        if (s.WeightsOf != s.Layer) notes.Add($"w{s.WeightsOf}");
        if (!s.RunsAttention) notes.Add("-attn");
        if (!s.RunsFeedForward) notes.Add("-ffn");
        return notes.Count == 0 ? $"{s.Layer}" : $"{s.Layer}({string.Join(",", notes)})";
    }
}
