using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Planning;

/// <summary>How the KV cache of steps a token skipped (by exiting early or by shallow decoding) is filled.</summary>
public enum KvFill
{
    /// <summary>CALM's state propagation: the skipped steps' K/V are projected from the hidden state the token stopped with.</summary>
    Propagate,

    /// <summary>
    /// EE-LLM's recomputation: an exited token's hidden state is parked, and its missing steps run (batched with the
    /// deeper token) when a later token first runs deeper than it went.
    /// </summary>
    Recompute,

    /// <summary>
    /// Lossless self-speculative decoding: generated tokens run the full schedule; greedy generation drafts with the
    /// first steps and verifies with all of them, so nothing is ever skipped for good (see <see cref="Speculation"/>).
    /// </summary>
    Lossless,
}

/// <summary>Layer <see cref="Layer"/> runs with the weights of layer <see cref="WeightsOf"/> (layer fusion by weight sharing).</summary>
public sealed record LayerShare(int Layer, int WeightsOf);

/// <summary>
/// Tensor names of an exit-specific head in the weights file: an RMSNorm weight [dim] and an output matrix
/// [vocab × dim], optionally after an <see cref="ExitAdapter"/>. Exit points without one use the model's final norm
/// and output matrix.
/// </summary>
public sealed record ExitHead(string Norm, string Output, ExitAdapter? Adapter = null)
{
    /// <summary>Every tensor the head reads, adapter first.</summary>
    public IEnumerable<string> TensorNames =>
        Adapter is { } a ? new[] { a.Norm, a.Weight }.Concat(a.Bias is null ? Enumerable.Empty<string>() : new[] { a.Bias }).Concat(new[] { Norm, Output }) : new[] { Norm, Output };
}

/// <summary>
/// A learned map in front of an exit head: the hidden state h becomes Weight · RMSNorm(h; <see cref="Norm"/>) + Bias
/// (Weight [dim × dim], Bias [dim]) before the head's own norm and output matrix. A dim × dim adapter fitted to the
/// full model's final state lets an exit reuse the model's output matrix (a head's vocab × dim weights stored once)
/// at dim² more work per head evaluation.
/// </summary>
public sealed record ExitAdapter(string Norm, string Weight, string? Bias = null);

/// <summary>An early-exit check after schedule step <see cref="AfterStep"/> (0-based), with its test and head.</summary>
public sealed record ExitPoint(int AfterStep, ExitTest Test, ExitHead? Head = null)
{
    /// <summary>A max-probability exit, the most common kind.</summary>
    public ExitPoint(int afterStep, ExitCriterion criterion, double threshold) : this(afterStep, ExitTest.Of(criterion, threshold)) { }

    public ExitCriterion Criterion => Test.Criterion;
    public double Threshold => Test.Threshold;

    /// <summary>Whether this exit point computes head logits when the token does not leave (see <see cref="ExitTest.NeedsHead"/>).</summary>
    public bool NeedsHead => Test.NeedsHead;
}

/// <summary>How a skippable layer decides, before it runs, that a generated token can go without it.</summary>
public enum SkipTest
{
    /// <summary>Skip when the cosine between the hidden states entering the previous step and entering this one is at least the threshold.</summary>
    Cosine,

    /// <summary>Skip when a linear probe on the (RMS-normalized) hidden state entering the step gives at least the threshold.</summary>
    Learned,
}

/// <summary>Generated tokens may skip every step that runs <see cref="Layer"/> when <see cref="Test"/> passes.</summary>
public sealed record SkipRule(int Layer, SkipTest Test, double Threshold, string? Probe = null);

/// <summary>
/// Self-speculative decoding (with <see cref="KvFill.Lossless"/>): draft up to <see cref="DraftTokens"/> tokens with
/// the first <see cref="DraftSteps"/> steps and a head, then verify them with the whole schedule in one batched pass.
/// </summary>
public sealed record Speculation(int DraftSteps, int DraftTokens)
{
    /// <summary>Drafted tokens plus the confirmed one fit one verification batch of this many positions.</summary>
    public const int MaxDraftTokens = 15;
}

/// <summary>
/// LaCo's layer collapse: layers <see cref="First"/> .. <see cref="First"/> + <see cref="Count"/> − 1 merge into layer
/// <see cref="First"/>, whose every tensor becomes θ_first + Σ_k (θ_first+k − θ_first); the other layers leave the
/// model (as if pruned).
/// </summary>
public sealed record LayerMerge(int First, int Count)
{
    /// <summary>The layers merged away into <see cref="First"/>.</summary>
    public System.Collections.Generic.IEnumerable<int> Absorbed => System.Linq.Enumerable.Range(First + 1, Count - 1);

    /// <summary>Every layer whose weights the merge reads.</summary>
    public System.Collections.Generic.IEnumerable<int> Sources => System.Linq.Enumerable.Range(First, Count);
}

/// <summary>A layer plan (a <c>NAME.plan.json</c> file) as written, before it is resolved into a schedule.</summary>
public sealed record LayerPlan
{
    /// <summary>The manifest file the plan is for, as written (a path relative to the plan file).</summary>
    public string Manifest { get; init; } = "";
    public IReadOnlyList<int> Prune { get => _prune; init => _prune = value.ToEquatableArray(); }
    private readonly EquatableArray<int> _prune = EquatableArray<int>.Empty;
    public IReadOnlyList<LayerShare> Share { get => _share; init => _share = value.ToEquatableArray(); }
    private readonly EquatableArray<LayerShare> _share = EquatableArray<LayerShare>.Empty;

    /// <summary>An explicit execution order (reordering, repeats); null runs the unpruned layers in order.</summary>
    public IReadOnlyList<int>? Order { get => _order; init => _order = value?.ToEquatableArray(); }
    private readonly EquatableArray<int>? _order;

    /// <summary>Steps generated tokens run (the prompt always runs the full schedule); null: all.</summary>
    public int? DecodeDepth { get; init; }
    public IReadOnlyList<ExitPoint> Exits { get => _exits; init => _exits = value.ToEquatableArray(); }
    private readonly EquatableArray<ExitPoint> _exits = EquatableArray<ExitPoint>.Empty;
    public IReadOnlyList<SkipRule> Skip { get => _skip; init => _skip = value.ToEquatableArray(); }
    private readonly EquatableArray<SkipRule> _skip = EquatableArray<SkipRule>.Empty;
    public KvFill KvFill { get; init; } = KvFill.Propagate;

    /// <summary>Sub-layer pruning: layers whose steps run without their attention (the residual passes through it).</summary>
    public IReadOnlyList<int> SkipAttention { get => _skipAttention; init => _skipAttention = value.ToEquatableArray(); }
    private readonly EquatableArray<int> _skipAttention = EquatableArray<int>.Empty;

    /// <summary>Sub-layer pruning: layers whose steps run without their feed-forward.</summary>
    public IReadOnlyList<int> SkipFeedForward { get => _skipFeedForward; init => _skipFeedForward = value.ToEquatableArray(); }
    private readonly EquatableArray<int> _skipFeedForward = EquatableArray<int>.Empty;

    /// <summary>LaCo merges: each range of consecutive layers collapses into its first layer.</summary>
    public IReadOnlyList<LayerMerge> Merge { get => _merge; init => _merge = value.ToEquatableArray(); }
    private readonly EquatableArray<LayerMerge> _merge = EquatableArray<LayerMerge>.Empty;

    /// <summary>The weight type the plan was made for (<see cref="ModelManifest.WeightType"/> must equal it); null: any.</summary>
    public string? WeightType { get; init; }

    /// <summary>Drafting and verification sizes; set exactly when <see cref="KvFill"/> is <see cref="KvFill.Lossless"/>.</summary>
    public Speculation? Speculation { get; init; }

    /// <summary>The sidecar probes the plan's learned tests name, read and checked (empty when they were not looked up).</summary>
    public IReadOnlyList<LinearProbe> Probes { get => _probes; init => _probes = value.ToEquatableArray(); }
    private readonly EquatableArray<LinearProbe> _probes = EquatableArray<LinearProbe>.Empty;

    /// <summary>How the exit thresholds were calibrated, when they were (a record: it changes nothing an executor does).</summary>
    public PlanCalibration? Calibration { get; init; }

    /// <summary>The plan that runs the model unchanged.</summary>
    public static LayerPlan Full(string manifest) => new() { Manifest = manifest };
}
