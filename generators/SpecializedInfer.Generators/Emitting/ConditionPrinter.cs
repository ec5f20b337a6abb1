using System.Linq;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>
/// Prints the decision model's conditions as C# expressions over the session's fields: every number from
/// <c>ExitMeasures</c> (the reference's calls), each threshold a double literal exactly as written. One function per
/// condition kind and per measure; nothing is decided here.
/// </summary>
public static class ConditionPrinter
{
    public static string Expression(Condition condition) => condition switch
    {
        ConstantCondition c => Print(c),
        ThresholdTest t => Print(t),
        SameArgMax a => Print(a),
        AllOf a => Print(a),
        AtLeastOf a => Print(a),
        _ => throw new System.NotSupportedException($"Condition {condition.GetType().Name}"),
    };

    /// <summary>The local that holds the argmax recorded in <paramref name="slot"/>.</summary>
    public static string ArgMax(int slot) => $"argmax{slot}";

    /// <summary>The field that holds a named state when the condition reads it.</summary>
    public static string State(TokenState state) => Slot(state.Slot);

    /// <summary>The session field behind a state slot: the residual stream itself for the current state.</summary>
    public static string Slot(StateSlot slot) => slot switch
    {
        StateSlot.SkipReference => "_enteredPrevious",
        StateSlot.ExitReference => "_exitState",
        _ => "_x",
    };

    private static string Print(ConstantCondition c) => c.Value ? "true" : "false";

    private static string Print(ThresholdTest t) =>
        $"{Print(t.Measure)} {(t.Bound == Bound.AtLeast ? ">=" : "<=")} {Literals.Double(t.Threshold)}";

    private static string Print(SameArgMax a) => $"{ArgMax(a.Slot)} == {ArgMax(a.EarlierSlot)}";

    private static string Print(AllOf a) => string.Join(" && ", a.Conditions.Select(Operand));

    private static string Print(AtLeastOf a) => $"{string.Join(" + ", a.Conditions.Select(c => $"({Expression(c)} ? 1 : 0)"))} >= {a.Count}";

    /// <summary>A member of an all-of: parenthesized when it is itself a combination.</summary>
    private static string Operand(Condition c) => c is AllOf or AtLeastOf ? $"({Expression(c)})" : Expression(c);

    private static string Print(Measure measure) => measure switch
    {
        LogitsMeasure m => Print(m),
        CosineMeasure m => Print(m),
        ProbeMeasure m => Print(m),
        _ => throw new System.NotSupportedException($"Measure {measure.GetType().Name}"),
    };

    private static string Print(LogitsMeasure m) => $"{ExitMeasures}.{m.Kind}(_logits, _probe)";

    private static string Print(CosineMeasure m) => $"{ExitMeasures}.Cosine({State(m.First)}, {State(m.Second)})";

    private static string Print(ProbeMeasure m) => $"{ExitMeasures}.Probe({State(m.State)}, Probe{m.Index}, Probe{m.Index}Bias, NormEps)";
}
