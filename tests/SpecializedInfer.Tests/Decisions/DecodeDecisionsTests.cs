using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Tests.Decisions;

/// <summary>
/// The decision model against expectations worked out by hand from docs/plans.md: which conditions fold, which argmax
/// slots exist, which states are kept where, and how a stopping token leaves the cache.
/// </summary>
public sealed class DecodeDecisionsTests
{
    private static ExecutionSchedule Schedule(
        IEnumerable<ExitPoint>? exits = null, IEnumerable<SkipRule>? skips = null, KvFill fill = KvFill.Propagate,
        int? depth = null, Planning.Speculation? speculation = null, int layers = 5) =>
        ExecutionSchedule.Resolve(new LayerPlan
        {
            Exits = (exits ?? []).ToEquatableArray(),
            Skip = (skips ?? []).ToEquatableArray(),
            KvFill = fill,
            DecodeDepth = depth,
            Speculation = speculation,
            Probes = new[] { new LinearProbe("a.probe.json", 0, new float[] { 1, 2 }.ToEquatableArray()), new LinearProbe("b.probe.json", 0, new float[] { 3, 4 }.ToEquatableArray()) }.ToEquatableArray(),
        }, layers);

    private static ExitPoint Exit(int step, ExitTest test, ExitHead? head = null) => new(step, test, head);
    private static ExitTest Max(double t) => ExitTest.Of(ExitCriterion.MaxProbability, t);
    private static ExitTest Saturation(double t) => ExitTest.Of(ExitCriterion.StateSaturation, t);

    private static TokenState Entering(int step, StateSlot slot) => new(StatePoint.Entering, step, slot);
    private static TokenState After(int step, StateSlot slot) => new(StatePoint.After, step, slot);
    private static ThresholdTest MaxP(double t) => new(new LogitsMeasure(LogitsMeasureKind.MaxProbability), Bound.AtLeast, t);
    private static EquatableArray<T> Items<T>(params T[] items) => items.ToEquatableArray();

    private static ExitDecision ExitAt(DecodeDecisions d, int step) => d.Steps[step].Exit ?? throw new Xunit.Sdk.XunitException($"no exit decision at step {step}");

    [Fact]
    public void Patience_compares_the_argmaxes_of_the_exit_points_that_computed_a_head()
    {
        // Exits after 0 (max p: a head), 1 (saturation: no head, so not in the history), 2 (patience 2), 3 (patience 3).
        // History at 2: [0] → argmax(2) = argmax(0). History at 3: [0, 2] → argmax(3) = argmax(0) and = argmax(2).
        // Slots are dense in step order over the argmaxes some test reads: 0 → 0, 2 → 1, 3 → 2.
        var d = DecodeDecisions.For(Schedule([Exit(0, Max(0.5)), Exit(1, Saturation(0.9)), Exit(2, ExitTest.OfPatience(2)), Exit(3, ExitTest.OfPatience(3))]));

        Assert.Equal(3, d.ArgMaxSlots);
        Assert.Equal([0, -1, 1, 2], d.Exits.Select(e => e.ArgMaxSlot));
        Assert.Equal([true, false, true, true], d.Exits.Select(e => e.HeadFirst));
        Assert.Equal(new SameArgMax(1, 0), ExitAt(d, 2).When);
        Assert.Equal(new AllOf(Items<Condition>(new SameArgMax(2, 0), new SameArgMax(2, 1))), ExitAt(d, 3).When);
        Assert.Equal(MaxP(0.5), ExitAt(d, 0).When);
    }

    [Fact]
    public void Patience_without_enough_history_never_passes_and_patience_1_always_does()
    {
        // Exit after 1 is the first: patience 2 has nothing to compare with. Exit after 2 with patience 1 always passes, so
        // steps 3 and 4 are unreachable: the decisions stop there and there is no decode-depth end.
        var d = DecodeDecisions.For(Schedule([Exit(1, ExitTest.OfPatience(2)), Exit(2, ExitTest.OfPatience(1)), Exit(3, Max(0.5))]));

        Assert.Equal([0, 1, 2], d.Steps.Select(s => s.Step));
        Assert.True(ExitAt(d, 1).When.IsNever);
        Assert.True(ExitAt(d, 2).When.IsAlways);
        Assert.Null(d.End);
        Assert.Equal(0, d.ArgMaxSlots); // no test reads an argmax
        Assert.Equal([-1, -1], d.Exits.Select(e => e.ArgMaxSlot));
        Assert.Equal([3], d.PropagationStarts); // the exit after 1 never lets a token leave
    }

    public static TheoryData<ExitTest, Condition> Ensembles()
    {
        var maxp = MaxP(0.5);
        var margin = new ThresholdTest(new LogitsMeasure(LogitsMeasureKind.Margin), Bound.AtLeast, 0.3);
        var entropy = new ThresholdTest(new LogitsMeasure(LogitsMeasureKind.Entropy), Bound.AtMost, 1);
        ExitTest M = Max(0.5), G = ExitTest.Of(ExitCriterion.Margin, 0.3), E = ExitTest.Of(ExitCriterion.Entropy, 1);
        // At a first exit point patience 1 is Always and patience 2 is Never.
        return new()
        {
            { ExitTest.OfEnsemble(1, ExitTest.OfPatience(1), M), Condition.Always },
            { ExitTest.OfEnsemble(2, ExitTest.OfPatience(2), M, E), new AllOf(Items<Condition>(maxp, entropy)) },
            { ExitTest.OfEnsemble(3, ExitTest.OfPatience(2), M, E), Condition.Never },
            { ExitTest.OfEnsemble(1, M, G), new AtLeastOf(1, Items<Condition>(maxp, margin)) },
            { ExitTest.OfEnsemble(2, ExitTest.OfPatience(1), M, G), new AtLeastOf(1, Items<Condition>(maxp, margin)) },
            { ExitTest.OfEnsemble(1, ExitTest.OfPatience(2), M), maxp },
            { ExitTest.OfEnsemble(0, ExitTest.OfPatience(2)), Condition.Always },
        };
    }

    [Theory]
    [MemberData(nameof(Ensembles))]
    public void Ensembles_fold_the_votes_the_schedule_settles(ExitTest ensemble, Condition expected)
    {
        var d = DecodeDecisions.For(Schedule([Exit(1, ensemble)]));
        Assert.Equal(expected, ExitAt(d, 1).When);
    }

    [Fact]
    public void Skip_rules_and_state_saturation_read_the_states_the_docs_name()
    {
        // Cosine skips at steps 2 and 3 compare with the state entering the previous step; one at step 0 has none and
        // never skips. Saturation at 2 (the first exit point) compares with the state entering step 2, at 3 with the
        // state after step 2 (the previous exit point).
        var d = DecodeDecisions.For(Schedule(
            [Exit(2, Saturation(0.95)), Exit(3, Saturation(0.9))],
            [new SkipRule(0, SkipTest.Cosine, 0.5), new SkipRule(2, SkipTest.Cosine, 0.9), new SkipRule(3, SkipTest.Cosine, 0.8)]));

        Assert.Null(d.Steps[0].Skip);
        Assert.Equal(new ThresholdTest(new CosineMeasure(Entering(1, StateSlot.SkipReference), Entering(2, StateSlot.Current)), Bound.AtLeast, 0.9), d.Steps[2].Skip!.When);
        Assert.Equal(new ThresholdTest(new CosineMeasure(Entering(2, StateSlot.SkipReference), Entering(3, StateSlot.Current)), Bound.AtLeast, 0.8), d.Steps[3].Skip!.When);
        Assert.Equal(new ThresholdTest(new CosineMeasure(After(2, StateSlot.Current), Entering(2, StateSlot.ExitReference)), Bound.AtLeast, 0.95), ExitAt(d, 2).When);
        Assert.Equal(new ThresholdTest(new CosineMeasure(After(3, StateSlot.Current), After(2, StateSlot.ExitReference)), Bound.AtLeast, 0.9), ExitAt(d, 3).When);

        // Kept: entering 1 and 2 for the skips, entering 2 for the first saturation, after 2 for the second.
        Assert.Equal(Items<TokenState>(), d.Steps[0].KeepBefore);
        Assert.Equal(Items(Entering(1, StateSlot.SkipReference)), d.Steps[1].KeepBefore);
        Assert.Equal(Items(Entering(2, StateSlot.SkipReference), Entering(2, StateSlot.ExitReference)), d.Steps[2].KeepBefore);
        Assert.Equal(Items<TokenState>(), d.Steps[3].KeepBefore);
        Assert.Equal(Items(After(2, StateSlot.ExitReference)), ExitAt(d, 2).KeepIfStaying);
        Assert.Equal(Items<TokenState>(), ExitAt(d, 3).KeepIfStaying);
        Assert.True(d.Keeps(StateSlot.SkipReference) && d.Keeps(StateSlot.ExitReference));
        Assert.Equal([false, false], d.Exits.Select(e => e.HeadFirst));
    }

    [Fact]
    public void Learned_tests_score_the_state_of_their_moment_with_the_probe_the_schedule_lists()
    {
        var d = DecodeDecisions.For(Schedule([Exit(1, ExitTest.OfLearned("b.probe.json", 0.7))], [new SkipRule(3, SkipTest.Learned, 0.6, "a.probe.json")]));
        Assert.Equal(new ThresholdTest(new ProbeMeasure("b.probe.json", 1, After(1, StateSlot.Current)), Bound.AtLeast, 0.7), ExitAt(d, 1).When);
        Assert.Equal(new ThresholdTest(new ProbeMeasure("a.probe.json", 0, Entering(3, StateSlot.Current)), Bound.AtLeast, 0.6), d.Steps[3].Skip!.When);
        Assert.False(d.Keeps(StateSlot.SkipReference) || d.Keeps(StateSlot.ExitReference));
    }

    [Theory]
    [InlineData(KvFill.Propagate, KvLeaveKind.Propagate)]
    [InlineData(KvFill.Recompute, KvLeaveKind.Park)]
    public void A_stopping_token_leaves_the_steps_after_it_to_the_kv_strategy(KvFill fill, KvLeaveKind kind)
    {
        // Decode depth 3 of 5, an exit after step 1: leaving there misses steps 2..4, reaching the depth misses 3..4.
        var d = DecodeDecisions.For(Schedule([Exit(1, Max(0.5)), Exit(4, Max(0.5))], fill: fill, depth: 3));
        Assert.Equal(3, d.Steps.Count);
        Assert.Equal([1], d.Exits.Select(e => e.Step)); // the exit after 4 is past the decode depth
        Assert.Equal(new KvLeave(kind, 2), ExitAt(d, 1).Leave);
        Assert.Equal(new DecodeEnd(2, false, new KvLeave(kind, 3)), d.End);
        Assert.Equal(fill == KvFill.Propagate ? new[] { 2, 3 } : new int[0], d.PropagationStarts);
    }

    [Fact]
    public void At_the_last_step_nothing_is_left_and_the_model_heads_logits_are_reused()
    {
        var shared = DecodeDecisions.For(Schedule([Exit(4, Max(0.5))]));
        Assert.Equal(new KvLeave(KvLeaveKind.Nothing, 5), ExitAt(shared, 4).Leave);
        Assert.Equal(new DecodeEnd(4, true, new KvLeave(KvLeaveKind.Nothing, 5)), shared.End);
        Assert.Empty(shared.PropagationStarts);

        // An exit head's logits are not the model's, and a state test computes no head: the model's head runs.
        Assert.False(DecodeDecisions.For(Schedule([Exit(4, Max(0.5), new ExitHead("n", "o"))])).End!.ReusesExitLogits);
        Assert.False(DecodeDecisions.For(Schedule([Exit(4, Saturation(0.5))])).End!.ReusesExitLogits);
        Assert.Equal(new ExitHead("n", "o"), ExitAt(DecodeDecisions.For(Schedule([Exit(2, Max(0.5), new ExitHead("n", "o"))])), 2).Head);
    }

    [Fact]
    public void Lossless_generated_tokens_run_every_step_and_the_draft_exit_is_a_first_exit_point()
    {
        var speculation = new Planning.Speculation(4, 6);
        var d = DecodeDecisions.For(Schedule([Exit(3, Max(0.5))], fill: KvFill.Lossless, speculation: speculation));
        Assert.Equal(5, d.Steps.Count);
        Assert.Empty(d.Exits);
        Assert.Empty(d.Skips);
        Assert.Equal(new DecodeEnd(4, false, new KvLeave(KvLeaveKind.Nothing, 5)), d.End);
        Assert.Equal(new DraftDecision(4, new ExitPoint(3, Max(0.5)), null, MaxP(0.5), Items<TokenState>()), d.Draft);
        Assert.True(d.Draft!.Confident.ReadsOnlyLogits);

        var saturation = DecodeDecisions.For(Schedule([Exit(3, Saturation(0.9), new ExitHead("n", "o"))], fill: KvFill.Lossless, speculation: speculation)).Draft!;
        Assert.Equal(new ThresholdTest(new CosineMeasure(After(3, StateSlot.Current), Entering(3, StateSlot.ExitReference)), Bound.AtLeast, 0.9), saturation.Confident);
        Assert.Equal(Items(Entering(3, StateSlot.ExitReference)), saturation.KeepBeforeLast);
        Assert.Equal(new ExitHead("n", "o"), saturation.Head);
        Assert.False(saturation.Confident.ReadsOnlyLogits);

        Assert.True(DecodeDecisions.For(Schedule([Exit(3, ExitTest.OfPatience(1))], fill: KvFill.Lossless, speculation: speculation)).Draft!.Confident.IsAlways);
        Assert.True(DecodeDecisions.For(Schedule([Exit(3, ExitTest.OfPatience(2))], fill: KvFill.Lossless, speculation: speculation)).Draft!.Confident.IsNever);
        var none = DecodeDecisions.For(Schedule(fill: KvFill.Lossless, speculation: speculation)).Draft!;
        Assert.True(none.Confident.IsAlways);
        Assert.Null(none.Exit);
        Assert.Null(DecodeDecisions.For(Schedule()).Draft);
    }

    [Fact]
    public void Decisions_are_values_so_generator_caching_sees_equal_schedules_as_equal()
    {
        ExecutionSchedule Make() => Schedule([Exit(0, Max(0.5)), Exit(2, ExitTest.OfEnsemble(2, ExitTest.OfPatience(2), Saturation(0.9), Max(0.7)))], [new SkipRule(3, SkipTest.Cosine, 0.9)]);
        var a = DecodeDecisions.For(Make());
        var b = DecodeDecisions.For(Make());
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, DecodeDecisions.For(Schedule([Exit(0, Max(0.5))])));
    }

    [Fact]
    public void Cascades_accept_logit_tests_only_with_the_message_they_always_gave()
    {
        Assert.Equal(new AllOf(Items<Condition>(MaxP(0.5), new ThresholdTest(new LogitsMeasure(LogitsMeasureKind.Entropy), Bound.AtMost, 2))),
            ConditionBuilder.OnLogitsOnly(ExitTest.OfEnsemble(2, Max(0.5), ExitTest.Of(ExitCriterion.Entropy, 2))));
        var e = Assert.Throws<ArgumentException>(() => ConditionBuilder.OnLogitsOnly(ExitTest.OfEnsemble(1, Max(0.5), ExitTest.OfPatience(2))));
        Assert.Null(e.ParamName);
        Assert.Equal("A cascade judges the first engine's final logits only; 'patience 2' (Patience) needs hidden states or earlier exit points. Use maxProbability, margin, entropy or an ensemble of them.", e.Message);
    }
}
