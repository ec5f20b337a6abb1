using SpecializedInfer.Planning;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tests.DynamicDepth;

/// <summary>
/// Exit heads named by a plan, written into a copy of the model as scaled copies of the model's own head: an
/// RMSNorm weight × a and an output matrix × b give exactly (a·b) × the model head's logits, a value this test
/// computes without the engine's head code.
/// </summary>
public sealed class ExitHeadTests : DynamicDepthTestBase
{
    private const string Head = "\"head\": { \"norm\": \"exit.norm\", \"output\": \"exit.output\" }";

    [Fact]
    public void A_leaving_token_answers_with_its_exit_heads_logits()
    {
        var model = ModelWithExitHead(normScale: 3, outputScale: 0.5f);
        using var planned = ReferenceEngine.Load(model, Plan($"\"exits\": [ {{ \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0, {Head} }} ]"));
        using var session = planned.CreateSession(64);
        var trace = new Trace();
        var logits = Generate(session, 10, trace);
        var w = planned.Weights;
        for (var i = 0; i < 10; i++)
        {
            var shared = HeadLogits(trace.States[(Prompt.Length + i, 1)], w.OutputNorm.Span, w.Output, planned.Config.NormEps);
            AssertClose(shared.Select(l => 1.5 * l).ToArray(), logits[i]);
        }
        Assert.Equal(10, session.Statistics.ExitsPerStep[1]);
    }

    [Fact]
    public void The_exit_decision_reads_the_exit_heads_logits_and_staying_tokens_get_the_models_head()
    {
        // A 3× sharper head raises max p; the threshold sits between the median max p of the two heads, so with the
        // exit head most tokens leave where the model head would keep them. Under recompute every state is the full
        // model's, so the full run predicts each decision.
        const int tokens = 20;
        var model = ModelWithExitHead(normScale: 3, outputScale: 1);
        var (full, fullLogits) = FullRun(tokens);
        using var oracle = ReferenceEngine.Load(Stories);
        var w = oracle.Weights;
        var eps = oracle.Config.NormEps;
        double[] Shared(int i) => HeadLogits(full.States[(Prompt.Length + i, 2)], w.OutputNorm.Span, w.Output, eps);
        var sharp = Enumerable.Range(0, tokens).Select(i => MaxProbability(Shared(i).Select(l => 3 * l).ToArray())).ToArray();
        var threshold = Median(sharp);

        using var planned = ReferenceEngine.Load(model, Plan($"\"exits\": [ {{ \"afterStep\": 2, \"criterion\": \"maxProbability\", \"threshold\": {F(threshold)}, {Head} }} ], \"kvFill\": \"recompute\""));
        using var session = planned.CreateSession(64);
        var logits = Generate(session, tokens);
        var left = 0;
        for (var i = 0; i < tokens; i++)
        {
            if (Math.Abs(sharp[i] - threshold) < 1e-5) continue;
            if (sharp[i] >= threshold)
            {
                left++;
                AssertClose(Shared(i).Select(l => 3 * l).ToArray(), logits[i]);
            }
            else Assert.Equal(fullLogits[i], logits[i]);
        }
        Assert.InRange(left, 1, tokens - 1);
        Assert.Equal(left, session.Statistics.ExitsPerStep[2]);
    }

    [Fact]
    public void A_token_that_stays_at_the_last_steps_exit_answers_with_the_models_head()
    {
        // Plans refuse an exit after the last step (it saves nothing), but a schedule built in code can have one.
        var model = ModelWithExitHead(normScale: 3, outputScale: 0.5f);
        var plan = new Planning.LayerPlan { Exits = new[] { new Planning.ExitPoint(4, Planning.ExitTest.Of(Planning.ExitCriterion.MaxProbability, 1.5), new Planning.ExitHead("exit.norm", "exit.output")) }.ToEquatableArray() };
        using var planned = new ReferenceEngine(Models.LlamaWeights.Load(model), Planning.ExecutionSchedule.Resolve(plan, 5), ownsWeights: true);
        using var session = planned.CreateSession(64);
        var (_, fullLogits) = FullRun(6);
        var logits = Generate(session, 6);
        for (var i = 0; i < 6; i++) Assert.Equal(fullLogits[i], logits[i]);
    }

    [Fact]
    public void Heads_are_bound_at_load_so_a_missing_tensor_fails_there()
    {
        var e = Assert.Throws<GgufFormatException>(() => ReferenceEngine.Load(Stories,
            Plan($"\"exits\": [ {{ \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.5, {Head} }} ]")));
        Assert.Contains("exit.norm", e.Message);
    }

    [Fact]
    public void A_head_named_by_several_exit_points_is_bound_once()
    {
        var model = ModelWithExitHead(normScale: 2, outputScale: 1);
        using var planned = ReferenceEngine.Load(model, Plan(
            $"\"exits\": [ {{ \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0.5, {Head} }}, {{ \"afterStep\": 3, \"criterion\": \"entropy\", \"threshold\": 0.5, {Head} }} ]"));
        var heads = planned.ExitHeadsByStep;
        Assert.NotNull(heads[1]);
        Assert.Equal(heads[1], heads[3]);
        Assert.Null(heads[0]);
        Assert.Equal(heads[1], planned.HeadWeights(new Planning.ExitHead("exit.norm", "exit.output")));
    }
}
