namespace SpecializedInfer.Planning.Decisions;

/// <summary>
/// Before step <see cref="Step"/> a generated token skips it when <see cref="When"/> passes (evaluated on the state
/// entering the step). A skipped step leaves the residual stream alone and stores at this position the K/V projected
/// from the state entering it (RMSNorm with its attention norm, K/V projections, RoPE): exactly what the layer would
/// have stored, under every KV strategy. Never-passing rules (cosine at step 0) have no decision at all.
/// </summary>
public sealed record SkipDecision(int Step, SkipRule Rule, Condition When);
