using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace SpecializedInfer.Planning.Decisions;

/// <summary>
/// When a generated token skips a step, leaves at an exit point, or a draft counts as confident. After simplification
/// (<see cref="ConditionBuilder"/>) a condition is <see cref="Always"/>, <see cref="Never"/>, or an expression in
/// which neither appears: <see cref="ThresholdTest"/>, <see cref="SameArgMax"/>, <see cref="AllOf"/> and
/// <see cref="AtLeastOf"/>. Executors evaluate it (the runtime's interpreter) or print it (the generator); neither
/// decides anything itself.
/// </summary>
public abstract record Condition
{
    /// <summary>Decided by the schedule: it passes for every token.</summary>
    public static Condition Always { get; } = new ConstantCondition(true);

    /// <summary>Decided by the schedule: it passes for no token.</summary>
    public static Condition Never { get; } = new ConstantCondition(false);

    public bool IsAlways => this is ConstantCondition { Value: true };
    public bool IsNever => this is ConstantCondition { Value: false };

    /// <summary>The comparisons and argmax equalities the condition is built from.</summary>
    public abstract IEnumerable<Condition> Atoms { get; }

    /// <summary>True when evaluating reads nothing but logits (no hidden state, no earlier exit point).</summary>
    public bool ReadsOnlyLogits => Atoms.All(a => a is ThresholdTest { Measure.ReadsLogits: true });

    /// <summary>True when evaluating reads the logits an exit point computed.</summary>
    public bool ReadsLogits => Atoms.Any(a => a is ThresholdTest { Measure.ReadsLogits: true });

    /// <summary>True when evaluating reads a state kept in <paramref name="slot"/>.</summary>
    public bool Reads(StateSlot slot) => Atoms.OfType<ThresholdTest>().Any(t => t.Measure.States.Any(s => s.Slot == slot));

    /// <summary>The argmax slots the condition compares.</summary>
    public IEnumerable<int> ArgMaxSlots => Atoms.OfType<SameArgMax>().SelectMany(a => new[] { a.Slot, a.EarlierSlot });

    /// <summary>"max p ≥ 0.9", "argmax 1 = argmax 0", "2 of (…)".</summary>
    public abstract string Describe();
}

/// <summary><see cref="Condition.Always"/> or <see cref="Condition.Never"/>.</summary>
public sealed record ConstantCondition(bool Value) : Condition
{
    public override IEnumerable<Condition> Atoms => Enumerable.Empty<Condition>();
    public override string Describe() => Value ? "always" : "never";
}

/// <summary>Which side of the threshold passes.</summary>
public enum Bound
{
    /// <summary>measure ≥ threshold.</summary>
    AtLeast,

    /// <summary>measure ≤ threshold.</summary>
    AtMost,
}

/// <summary>
/// A measure compared with a threshold exactly as written: the single-precision measure is widened to double, so
/// <c>(double)measure &gt;= Threshold</c>.
/// </summary>
public sealed record ThresholdTest(Measure Measure, Bound Bound, double Threshold) : Condition
{
    public override IEnumerable<Condition> Atoms => new[] { this };

    public override string Describe() =>
        $"{Measure.Describe()} {(Bound == Bound.AtLeast ? "≥" : "≤")} {Threshold.ToString("R", CultureInfo.InvariantCulture)}";
}

/// <summary>
/// Patience: the argmax recorded in slot <see cref="Slot"/> (this exit point's) equals the one in
/// <see cref="EarlierSlot"/> (an earlier exit point's that computed a head).
/// </summary>
public sealed record SameArgMax(int Slot, int EarlierSlot) : Condition
{
    public override IEnumerable<Condition> Atoms => new[] { this };
    public override string Describe() => $"argmax {Slot} = argmax {EarlierSlot}";
}

/// <summary>Every condition passes (at least two, none constant).</summary>
public sealed record AllOf(IReadOnlyList<Condition> Conditions) : Condition
{
    private readonly EquatableArray<Condition> _conditions = Conditions.ToEquatableArray();

    public IReadOnlyList<Condition> Conditions { get => _conditions; init => _conditions = value.ToEquatableArray(); }

    public override IEnumerable<Condition> Atoms => Conditions.SelectMany(c => c.Atoms);
    public override string Describe() => $"all of ({string.Join(", ", Conditions.Select(c => c.Describe()))})";
}

/// <summary>At least <see cref="Count"/> of the conditions pass (an ensemble's open votes; none constant).</summary>
public sealed record AtLeastOf(int Count, IReadOnlyList<Condition> Conditions) : Condition
{
    private readonly EquatableArray<Condition> _conditions = Conditions.ToEquatableArray();

    public IReadOnlyList<Condition> Conditions { get => _conditions; init => _conditions = value.ToEquatableArray(); }

    public override IEnumerable<Condition> Atoms => Conditions.SelectMany(c => c.Atoms);
    public override string Describe() => $"{Count} of ({string.Join(", ", Conditions.Select(c => c.Describe()))})";
}
