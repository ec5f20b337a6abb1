namespace SpecializedInfer.Planning;

/// <summary>How an exit point decides that a token is done.</summary>
public enum ExitCriterion
{
    /// <summary>The largest softmax probability of the exit head's logits reaches the threshold.</summary>
    MaxProbability,
}

/// <summary>How the KV cache of steps a token skipped (by exiting early or by shallow decoding) is filled.</summary>
public enum KvFill
{
    /// <summary>CALM's state propagation: the skipped steps' K/V are projected from the hidden state the token stopped with.</summary>
    Propagate,
}

/// <summary>Layer <see cref="Layer"/> runs with the weights of layer <see cref="WeightsOf"/> (layer fusion by weight sharing).</summary>
public sealed record LayerShare(int Layer, int WeightsOf);

/// <summary>An early-exit check after schedule step <see cref="AfterStep"/> (0-based).</summary>
public sealed record ExitPoint(int AfterStep, ExitCriterion Criterion, double Threshold);

/// <summary>A layer plan (a <c>NAME.plan.json</c> file) as written, before it is resolved into a schedule.</summary>
public sealed record LayerPlan
{
    /// <summary>The manifest file the plan is for, as written (a path relative to the plan file).</summary>
    public string Manifest { get; init; } = "";
    public EquatableArray<int> Prune { get; init; } = EquatableArray<int>.Empty;
    public EquatableArray<LayerShare> Share { get; init; } = EquatableArray<LayerShare>.Empty;

    /// <summary>An explicit execution order (reordering, repeats); null runs the unpruned layers in order.</summary>
    public EquatableArray<int>? Order { get; init; }

    /// <summary>Steps generated tokens run (the prompt always runs the full schedule); null: all.</summary>
    public int? DecodeDepth { get; init; }
    public EquatableArray<ExitPoint> Exits { get; init; } = EquatableArray<ExitPoint>.Empty;
    public KvFill KvFill { get; init; } = KvFill.Propagate;

    /// <summary>The plan that runs the model unchanged.</summary>
    public static LayerPlan Full(string manifest) => new() { Manifest = manifest };
}
