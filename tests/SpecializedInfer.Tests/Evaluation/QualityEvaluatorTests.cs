using SpecializedInfer.Engine;
using SpecializedInfer.Evaluation;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Tests.Evaluation;

/// <summary>
/// The quality harness on stories260K: a plan equal to the model measures as identical, a damaged one does not,
/// and perplexity is what a hand computation from the engine's logits gives.
/// </summary>
public sealed class QualityEvaluatorTests : IDisposable
{
    private readonly EvaluationFiles _files = new();
    private static readonly EvaluationOptions Small = new() { MaxNewTokens = 24, PerplexityWindow = 16 };

    private static LlamaTokenizer Tokenizer(ReferenceEngine engine) => LlamaTokenizer.FromGguf(engine.Weights.File);

    private QualityReport Evaluate(string planJson, EvaluationOptions? options = null)
    {
        using var full = ReferenceEngine.Load(EvaluationFiles.Stories);
        using var plan = ReferenceEngine.Load(EvaluationFiles.Stories, _files.Plan(planJson));
        return new QualityEvaluator(full, plan, Tokenizer(full), options ?? Small).Evaluate(EvaluationFiles.Prompts, EvaluationFiles.Text);
    }

    [Fact]
    public void The_full_plan_against_the_model_is_identical()
    {
        var r = Evaluate("");
        Assert.Equal(EvaluationFiles.Prompts.Length * Small.MaxNewTokens, r.TeacherForced.Positions);
        Assert.Equal(1.0, r.TeacherForced.Agreement);
        Assert.InRange(r.TeacherForced.MeanKl, 0, 1e-9);
        Assert.InRange(r.TeacherForced.MaxKl, 0, 1e-9);
        Assert.Equal(1.0, r.FreeRunning.IdenticalFraction);
        Assert.Equal(Small.MaxNewTokens, r.FreeRunning.MeanIdenticalPrefix);
        Assert.NotNull(r.Perplexity);
        Assert.Equal(r.Perplexity.FullPerplexity, r.Perplexity.PlanPerplexity);
        Assert.InRange(r.Perplexity.FullPerplexity, 1.5, 50);
        Assert.Equal(5.0, r.FreeRunning.PlanDepth.MeanSteps);
        Assert.Equal(r.FreeRunning.FullDepth.GeneratedTokens, r.FreeRunning.PlanDepth.GeneratedTokens);
        // n tokens per prompt, the first from the prompt's logits: n − 1 timed decode steps each.
        Assert.Equal(EvaluationFiles.Prompts.Length * (Small.MaxNewTokens - 1), r.Speed.Plan.Steps);
        Assert.True(r.Speed.Full.TokensPerSecond > 0 && r.Speed.Plan.TokensPerSecond > 0);
    }

    [Theory]
    [InlineData("\"prune\": [3]")]
    [InlineData("\"decodeDepth\": 2")]
    public void A_damaged_plan_disagrees(string planJson)
    {
        var r = Evaluate(planJson);
        Assert.True(r.TeacherForced.Agreement < 1, $"agreement {r.TeacherForced.Agreement}");
        Assert.True(r.TeacherForced.MeanKl > 1e-3, $"KL {r.TeacherForced.MeanKl}");
        Assert.True(r.TeacherForced.MaxKl >= r.TeacherForced.MeanKl);
        Assert.True(r.FreeRunning.MeanIdenticalPrefix < Small.MaxNewTokens);
        Assert.True(r.Perplexity!.PlanPerplexity > r.Perplexity.FullPerplexity);
    }

    [Fact]
    public void Depth_and_exits_come_from_the_plans_statistics()
    {
        // An exit that always fires after step 1: every generated token runs 2 steps, none runs deeper.
        var r = Evaluate("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0 } ]");
        var depth = r.FreeRunning.PlanDepth;
        Assert.Equal(2.0, depth.MeanSteps);
        Assert.Equal(depth.GeneratedTokens, depth.StepsHistogram[2]);
        var exit = Assert.Single(depth.Exits);
        Assert.Equal(1, exit.Exit.AfterStep);
        Assert.Equal(depth.GeneratedTokens, exit.Tokens);
        Assert.Equal(EvaluationFiles.Prompts.Length * (Small.MaxNewTokens - 1), depth.GeneratedTokens);
        Assert.Equal(5.0, r.FreeRunning.FullDepth.MeanSteps);
        Assert.Empty(r.FreeRunning.FullDepth.Exits);
    }

    [Fact]
    public void Teacher_forcing_feeds_the_full_models_greedy_continuation()
    {
        // The full model's own greedy text, fed to a plan, agrees exactly where the plan's argmax equals it.
        using var full = ReferenceEngine.Load(EvaluationFiles.Stories);
        using var plan = ReferenceEngine.Load(EvaluationFiles.Stories, _files.Plan("\"decodeDepth\": 3"));
        var tokenizer = Tokenizer(full);
        var prompt = tokenizer.Encode(EvaluationFiles.Prompts[0], addBos: true);
        const int n = 20;

        var fullSession = full.CreateSession(64);
        var continuation = new List<int> { Sampler.ArgMax(fullSession.Forward(prompt)) };
        while (continuation.Count < n) continuation.Add(Sampler.ArgMax(fullSession.Forward(continuation[^1])));

        var planSession = plan.CreateSession(64);
        var agreements = Sampler.ArgMax(planSession.Forward(prompt)) == continuation[0] ? 1 : 0;
        for (var i = 1; i < n; i++)
            if (Sampler.ArgMax(planSession.Forward(continuation[i - 1])) == continuation[i]) agreements++;

        var result = new QualityEvaluator(full, plan, tokenizer, new EvaluationOptions { MaxNewTokens = n }).TeacherForced([prompt]);
        Assert.Equal(n, result.Positions);
        Assert.Equal(agreements, result.Agreements);
    }

    [Theory]
    [InlineData("", 16)]
    [InlineData("", 7)]
    [InlineData("\"decodeDepth\": 2", 16)]
    [InlineData("\"exits\": [ { \"afterStep\": 2, \"criterion\": \"maxProbability\", \"threshold\": 0.5 } ]", 9)]
    public void Perplexity_is_the_hand_computation_from_the_logits(string planJson, int window)
    {
        using var full = ReferenceEngine.Load(EvaluationFiles.Stories);
        using var plan = ReferenceEngine.Load(EvaluationFiles.Stories, _files.Plan(planJson));
        var tokenizer = Tokenizer(full);
        var tokens = tokenizer.Encode(EvaluationFiles.Text, addBos: true);
        Assert.True(tokens.Length > 2 * window, "the text spans several windows");

        var result = new QualityEvaluator(full, plan, tokenizer, new EvaluationOptions { PerplexityWindow = window }).Perplexity(tokens);

        Assert.Equal(tokens.Length, result.Tokens);
        var (fullNll, fullCount) = HandNll(full, tokens, window);
        var (planNll, planCount) = HandNll(plan, tokens, window);
        Assert.Equal(fullCount, result.Predictions);
        Assert.Equal(planCount, result.Predictions);
        Assert.Equal(Math.Exp(fullNll / fullCount), result.FullPerplexity, 1e-9);
        Assert.Equal(Math.Exp(planNll / planCount), result.PlanPerplexity, 1e-9);
        if (planJson.Length == 0) Assert.Equal(result.FullPerplexity, result.PlanPerplexity);
        else Assert.NotEqual(result.FullPerplexity, result.PlanPerplexity);
    }

    /// <summary>
    /// Windows of <paramref name="window"/> tokens, each a fresh sequence: its first token is the prompt, every
    /// later token is scored by −ln(e^{l_t} / Σ e^{l}) under the logits before it, then fed as a generated token.
    /// </summary>
    private static (double Nll, long Count) HandNll(ILanguageModel model, int[] tokens, int window)
    {
        double nll = 0;
        long count = 0;
        for (var start = 0; start < tokens.Length; start += window)
        {
            var w = tokens.Skip(start).Take(window).ToArray();
            if (w.Length < 2) continue;
            using var session = model.CreateSession(window);
            var logits = session.Forward(w.AsSpan(0, 1)).ToArray();
            for (var j = 1; j < w.Length; j++)
            {
                var max = logits.Max();
                var denominator = logits.Sum(l => Math.Exp(l - (double)max));
                nll -= Math.Log(Math.Exp(logits[w[j]] - (double)max) / denominator);
                count++;
                if (j + 1 < w.Length) logits = session.Forward(w[j]).ToArray();
            }
        }
        return (nll, count);
    }

    [Fact]
    public void One_new_token_is_the_prompts_argmax_and_takes_no_decode_step()
    {
        using var full = ReferenceEngine.Load(EvaluationFiles.Stories);
        var tokenizer = Tokenizer(full);
        var r = new QualityEvaluator(full, full, tokenizer, new EvaluationOptions { MaxNewTokens = 1 })
            .FreeRunning([tokenizer.Encode("The cat", addBos: true)]);
        Assert.Equal((1L, 1L, 1.0), (r.ComparedTokens, r.IdenticalTokens, r.MeanIdenticalPrefix));
        Assert.Equal(0, r.Speed.Full.Steps);
    }

    [Fact]
    public void Eos_ends_a_continuation_and_the_longer_sequence_is_compared()
    {
        // Any ILanguageModel: "full" says 10, 11, then EOS; "plan" says 10, then 20, 21, 22, ... and never stops.
        using var full = ReferenceEngine.Load(EvaluationFiles.Stories);
        var tokenizer = Tokenizer(full);
        var eos = tokenizer.EosId;
        const int prompt = 3; // BOS and two tokens
        using var scriptedFull = new ScriptedModel(512, s => (s.Count - prompt) switch { 0 => 10, 1 => 11, _ => eos });
        using var scriptedPlan = new ScriptedModel(512, s => s.Count == prompt ? 10 : 20 + s.Count - prompt - 1);
        var evaluator = new QualityEvaluator(scriptedFull, scriptedPlan, tokenizer, new EvaluationOptions { MaxNewTokens = 8 });
        int[][] prompts = [[tokenizer.BosId, 100, 101]];

        var free = evaluator.FreeRunning(prompts);
        Assert.Equal((3L, 8L), (free.FullTokens, free.PlanTokens));               // [10, 11, EOS] and [10, 20, 21, ..., 26]
        Assert.Equal((8L, 1L, 1.0), (free.ComparedTokens, free.IdenticalTokens, free.MeanIdenticalPrefix));
        Assert.Equal((2L, 7L), (free.Speed.Full.Steps, free.Speed.Plan.Steps));
        Assert.Equal(7, free.PlanDepth.GeneratedTokens);

        // Teacher-forced on [10, 11, EOS]: three predictions, the plan gets the first right (10) and then says 20, 21.
        var forced = evaluator.TeacherForced(prompts);
        Assert.Equal((3L, 1L), (forced.Positions, forced.Agreements));
        // Logit 4 on one token, 0 on the other 511: where the peaks differ only those two tokens contribute to KL.
        double z = Math.Exp(4) + 511, peak = Math.Exp(4) / z, rest = 1 / z;
        var differentPeaks = peak * Math.Log(peak / rest) + rest * Math.Log(rest / peak);
        Assert.Equal(2 * differentPeaks / 3, forced.MeanKl, 9);
        Assert.Equal(differentPeaks, forced.MaxKl, 9);
    }

    [Fact]
    public void Prompts_that_do_not_fit_the_context_are_rejected()
    {
        using var full = ReferenceEngine.Load(EvaluationFiles.Stories);
        var tokenizer = Tokenizer(full);
        var evaluator = new QualityEvaluator(full, full, tokenizer, new EvaluationOptions { MaxNewTokens = full.Config.ContextLength });
        var e = Assert.Throws<ArgumentException>(() => evaluator.TeacherForced([tokenizer.Encode("Once upon a time", addBos: true)]));
        Assert.Contains("positions", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new QualityEvaluator(full, full, tokenizer, new EvaluationOptions { MaxNewTokens = 0 }));
    }

    public void Dispose() => _files.Dispose();
}
