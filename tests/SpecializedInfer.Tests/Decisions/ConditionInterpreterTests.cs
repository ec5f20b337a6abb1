using SpecializedInfer.Engine;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Tests.Decisions;

/// <summary>
/// The runtime's interpreter of the decision model against numbers computed here in double precision: each measure
/// just above and just below its threshold, the kept states it reads, argmax slots, and the combinations.
/// </summary>
public sealed class ConditionInterpreterTests
{
    private static readonly float[] Logits = [2f, 1f, 0f, -1f];
    private const float Eps = 1e-5f;

    private static readonly ConditionInterpreter Interpreter =
        new(vocabSize: 4, dim: 2, Eps, [new LinearProbe("p.probe.json", 0.5f, new float[] { 1, -1 }.ToEquatableArray())], argMaxSlots: 2);

    private static double[] Softmax()
    {
        var e = Logits.Select(l => Math.Exp(l - 2.0)).ToArray();
        return e.Select(v => v / e.Sum()).ToArray();
    }

    private static ThresholdTest Test(Measure m, Bound bound, double threshold) => new(m, bound, threshold);

    /// <summary>Passes on one side of the true value and fails on the other, by a margin far above float rounding.</summary>
    private static void AssertSplits(Measure measure, Bound bound, double value, ReadOnlySpan<float> current)
    {
        var below = value - 1e-4;
        var above = value + 1e-4;
        Assert.Equal(bound == Bound.AtLeast, Interpreter.Passes(Test(measure, bound, below), current, Logits));
        Assert.Equal(bound == Bound.AtMost, Interpreter.Passes(Test(measure, bound, above), current, Logits));
    }

    [Fact]
    public void Logit_measures_are_compared_with_their_thresholds()
    {
        var p = Softmax();
        AssertSplits(new LogitsMeasure(LogitsMeasureKind.MaxProbability), Bound.AtLeast, p[0], default);
        AssertSplits(new LogitsMeasure(LogitsMeasureKind.Margin), Bound.AtLeast, p[0] - p[1], default);
        AssertSplits(new LogitsMeasure(LogitsMeasureKind.Entropy), Bound.AtMost, -p.Sum(v => v * Math.Log(v)), default);
    }

    [Fact]
    public void Cosines_read_the_kept_states_and_the_current_one()
    {
        var interpreter = new ConditionInterpreter(4, 2, Eps, [], 0);
        interpreter.Keep(new[] { new TokenState(StatePoint.Entering, 0, StateSlot.SkipReference) }.ToEquatableArray(), [1f, 0f]);
        interpreter.Keep(new[] { new TokenState(StatePoint.After, 1, StateSlot.ExitReference) }.ToEquatableArray(), [0f, -1f]);
        float[] current = [1f, 1f];
        var skip = new CosineMeasure(new TokenState(StatePoint.Entering, 0, StateSlot.SkipReference), new TokenState(StatePoint.Entering, 1, StateSlot.Current));
        var exit = new CosineMeasure(new TokenState(StatePoint.After, 2, StateSlot.Current), new TokenState(StatePoint.After, 1, StateSlot.ExitReference));
        Assert.Equal(Math.Sqrt(0.5), interpreter.Measure(skip, current, default), 6);
        Assert.Equal(-Math.Sqrt(0.5), interpreter.Measure(exit, current, default), 6);
    }

    [Fact]
    public void Probes_score_the_named_state()
    {
        float[] state = [3f, 1f];
        var z = 0.5 + (3 - 1) / Math.Sqrt((9 + 1) / 2.0 + Eps);
        AssertSplits(new ProbeMeasure("p.probe.json", 0, new TokenState(StatePoint.After, 0, StateSlot.Current)), Bound.AtLeast, 1 / (1 + Math.Exp(-z)), state);
    }

    [Fact]
    public void Patience_compares_recorded_argmaxes_and_combinations_count_votes()
    {
        var interpreter = new ConditionInterpreter(3, 0, Eps, [], 2);
        interpreter.RecordArgMax(0, [0f, 5f, 1f]);
        interpreter.RecordArgMax(1, [3f, 9f, 2f]);
        Assert.True(interpreter.Passes(new SameArgMax(1, 0), default, default));
        interpreter.RecordArgMax(1, [9f, 0f, 0f]);
        Assert.False(interpreter.Passes(new SameArgMax(1, 0), default, default));

        Condition yes = Condition.Always, no = Condition.Never;
        Assert.True(interpreter.Passes(new AtLeastOf(2, new[] { yes, no, yes }.ToEquatableArray()), default, default));
        Assert.False(interpreter.Passes(new AtLeastOf(3, new[] { yes, no, yes }.ToEquatableArray()), default, default));
        Assert.False(interpreter.Passes(new AllOf(new[] { yes, no }.ToEquatableArray()), default, default));
        Assert.True(interpreter.Passes(new AllOf(new[] { yes, yes }.ToEquatableArray()), default, default));
    }

    [Fact]
    public void Evaluating_allocates_nothing()
    {
        var interpreter = new ConditionInterpreter(4, 2, Eps, [new LinearProbe("p.probe.json", 0.5f, new float[] { 1, -1 }.ToEquatableArray())], 1);
        var kept = new[] { new TokenState(StatePoint.Entering, 0, StateSlot.ExitReference) }.ToEquatableArray();
        var condition = new AtLeastOf(2, new Condition[]
        {
            Test(new LogitsMeasure(LogitsMeasureKind.Entropy), Bound.AtMost, 1),
            Test(new CosineMeasure(new TokenState(StatePoint.After, 0, StateSlot.Current), new TokenState(StatePoint.Entering, 0, StateSlot.ExitReference)), Bound.AtLeast, 0.5),
            Test(new ProbeMeasure("p.probe.json", 0, new TokenState(StatePoint.After, 0, StateSlot.Current)), Bound.AtLeast, 0.5),
            new SameArgMax(0, 0),
        }.ToEquatableArray());
        float[] state = [3f, 1f];
        interpreter.Passes(condition, state, Logits);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            interpreter.Keep(kept, state);
            interpreter.RecordArgMax(0, Logits);
            interpreter.Passes(condition, state, Logits);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
