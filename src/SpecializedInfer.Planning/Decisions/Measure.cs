using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Planning.Decisions;

/// <summary>
/// A number a condition compares with a threshold. Every executor computes it with the runtime's <c>ExitMeasures</c>
/// (single precision), from the logits the exit point computed or from named hidden states.
/// </summary>
public abstract record Measure
{
    /// <summary>True when the measure reads the logits an exit point computed (its head must run before deciding).</summary>
    public abstract bool ReadsLogits { get; }

    /// <summary>The hidden states the measure reads.</summary>
    public abstract IEnumerable<TokenState> States { get; }

    /// <summary>"max p", "cos(after step 1, entering step 1)", "probe f.probe.json(after step 2)".</summary>
    public abstract string Describe();
}

/// <summary>What a logits measure computes from the softmax of the logits.</summary>
public enum LogitsMeasureKind
{
    /// <summary>The largest probability.</summary>
    MaxProbability,

    /// <summary>The largest minus the second largest probability.</summary>
    Margin,

    /// <summary>The entropy, in nats.</summary>
    Entropy,
}

/// <summary>A measure of the softmax of the logits the exit point (or a cascade's first engine) computed.</summary>
public sealed record LogitsMeasure(LogitsMeasureKind Kind) : Measure
{
    public override bool ReadsLogits => true;
    public override IEnumerable<TokenState> States => Enumerable.Empty<TokenState>();

    public override string Describe() => Kind switch
    {
        LogitsMeasureKind.MaxProbability => "max p",
        LogitsMeasureKind.Margin => "margin",
        _ => "entropy",
    };
}

/// <summary>The cosine between two hidden states of the token, in this order.</summary>
public sealed record CosineMeasure(TokenState First, TokenState Second) : Measure
{
    public override bool ReadsLogits => false;
    public override IEnumerable<TokenState> States => new[] { First, Second };
    public override string Describe() => $"cos({First.Describe()}, {Second.Describe()})";
}

/// <summary>
/// A linear probe's score on a hidden state: the probe <see cref="File"/> as the plan names it, and its
/// <see cref="Index"/> in <see cref="ExecutionSchedule.Probes"/> (−1 when the schedule was built without its sidecars).
/// </summary>
public sealed record ProbeMeasure(string File, int Index, TokenState State) : Measure
{
    public override bool ReadsLogits => false;
    public override IEnumerable<TokenState> States => new[] { State };
    public override string Describe() => $"probe {File}({State.Describe()})";
}
