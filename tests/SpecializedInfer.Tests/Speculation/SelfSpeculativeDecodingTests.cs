using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Sampling;
using static SpecializedInfer.Tests.Speculation.Stories260KSpeculation;

namespace SpecializedInfer.Tests.Speculation;

/// <summary>
/// The acceptance criterion of lossless self-speculative decoding: greedy output equals full-depth greedy output
/// token for token, whatever the draft depth, draft length or draft exit, and the statistics add up.
/// </summary>
public sealed class SelfSpeculativeDecodingTests
{
    private const int Tokens = 256;

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 4)]
    [InlineData(3, 8)]
    [InlineData(4, 1)]
    [InlineData(4, 15)]
    [InlineData(2, 15)]
    public void Greedy_output_equals_full_depth_greedy_on_eight_prompts(int draftSteps, int draftTokens)
    {
        using var engine = Lossless(draftSteps, draftTokens);
        foreach (var prompt in Prompts(8))
        {
            using var session = engine.CreateSession(prompt.Length + Tokens);
            Assert.IsAssignableFrom<ISpeculativeSession>(session);
            var generator = new TextGenerator(session, Greedy, eosId: -1);
            Assert.True(generator.UsesSpeculation);
            var produced = generator.Generate(prompt, Tokens, stopAtEos: false).ToArray();
            Assert.Equal(FullDepthGreedy(prompt, Tokens), produced);

            // Every kept position is one generated token at full depth, as plain decoding would count it.
            var stats = session.Statistics;
            Assert.Equal(Tokens - 1, stats.GeneratedTokens);
            Assert.Equal(stats.GeneratedTokens, stats.VerificationPasses + stats.AcceptedDrafts);
            Assert.Equal(stats.GeneratedTokens * 5, stats.GeneratedSteps);
            Assert.Equal(prompt.Length, stats.PromptTokens);
            Assert.InRange(stats.DraftedTokens, stats.AcceptedDrafts, stats.VerificationPasses * draftTokens);
            Assert.Equal(prompt.Length + Tokens - 1, session.Position);
        }
    }

    [Fact]
    public void A_draft_exit_stops_drafting_early_and_changes_nothing_in_the_output()
    {
        const int k = 8;
        foreach (var (threshold, expectDrafts) in new[] { (0.5, true), (1.5, false) })
        {
            using var engine = Lossless(3, k, $$"""{ "afterStep": 2, "criterion": "maxProbability", "threshold": {{threshold}} }""");
            long drafted = 0, passes = 0;
            foreach (var prompt in Prompts(8))
            {
                using var session = engine.CreateSession(prompt.Length + Tokens);
                var produced = new TextGenerator(session, Greedy, eosId: -1).Generate(prompt, Tokens, stopAtEos: false).ToArray();
                Assert.Equal(FullDepthGreedy(prompt, Tokens), produced);
                drafted += session.Statistics.DraftedTokens;
                passes += session.Statistics.VerificationPasses;
                Assert.Equal(Tokens - 1, session.Statistics.VerificationPasses + session.Statistics.AcceptedDrafts);
            }
            // At 0.5 some drafts stop before k, at 1.5 (never confident) every pass verifies the confirmed token alone.
            if (expectDrafts) Assert.InRange(drafted, 1, passes * k - 1);
            else Assert.Equal(0, drafted);
        }
    }

    [Fact]
    public void Draft_confidence_is_the_exit_test_on_the_draft_logits()
    {
        using var engine = Lossless(2, 4, """{ "afterStep": 1, "criterion": "maxProbability", "threshold": 0.4 }""");
        using var session = (ISpeculativeSession)engine.CreateSession(64);
        var prompt = Prompts(1)[0];
        var token = Sampler.ArgMax(session.Forward(prompt));
        var scratch = new float[Vocab];
        int confident = 0, unsure = 0;
        for (var i = 0; i < 30; i++)
        {
            var logits = session.Draft(token, out var isConfident);
            Assert.Equal(ExitMeasures.MaxProbability(logits, scratch) >= 0.4, isConfident);
            if (isConfident) confident++; else unsure++;
            token = Sampler.ArgMax(logits);
        }
        Assert.True(confident > 0 && unsure > 0, $"{confident} confident, {unsure} unsure: the threshold does not exercise both outcomes");
    }

    [Fact]
    public void Forward_of_a_generated_token_runs_the_whole_schedule_even_with_a_draft_exit()
    {
        // Threshold 0: were the exit honoured by Forward(int), every token would leave after step 1.
        using var engine = Lossless(2, 4, """{ "afterStep": 1, "criterion": "maxProbability", "threshold": 0 }""");
        using var lossless = engine.CreateSession(64);
        using var full = Full.CreateSession(64);
        var prompt = Prompts(1)[0];
        Assert.Equal(Bits(full.Forward(prompt)), Bits(lossless.Forward(prompt)));
        foreach (var t in new[] { 32, 263, 293, 45, 400 })
            Assert.Equal(Bits(full.Forward(t)), Bits(lossless.Forward(t)));
        Assert.Equal(5, lossless.Statistics.MeanStepsPerGeneratedToken);
    }

    [Fact]
    public void Sampling_falls_back_to_full_depth_forward_passes_with_the_same_draws()
    {
        var options = new SamplingOptions { Temperature = 0.8f, TopK = 40, Seed = 7 };
        var prompt = Prompts(2)[1];
        using var engine = Lossless(2, 4);
        using var session = engine.CreateSession(prompt.Length + 100);
        using var fullSession = Full.CreateSession(prompt.Length + 100);
        var generator = new TextGenerator(session, new Sampler(options, Vocab), eosId: -1);
        Assert.False(generator.UsesSpeculation);
        var sampled = generator.Generate(prompt, 100, stopAtEos: false).ToArray();
        var expected = new TextGenerator(fullSession, new Sampler(options, Vocab), eosId: -1).Generate(prompt, 100, stopAtEos: false).ToArray();
        Assert.Equal(expected, sampled);
        Assert.Equal(0, session.Statistics.VerificationPasses);
        Assert.Equal(99, session.Statistics.GeneratedTokens);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 0)]
    [InlineData(3, 0)]
    [InlineData(17, 0)]
    [InlineData(300, 9)]  // the context ends first: 9 free positions after the prompt
    [InlineData(300, 1)]
    public void Budget_and_context_end_stop_where_plain_decoding_stops(int budget, int freePositions)
    {
        var prompt = Prompts(3)[2];
        var context = freePositions > 0 ? prompt.Length + freePositions : prompt.Length + budget;
        using var engine = Lossless(4, 15);
        using var session = engine.CreateSession(context);
        using var fullSession = Full.CreateSession(context);
        var plain = new TextGenerator(fullSession, Greedy, eosId: -1);
        var speculative = new TextGenerator(session, Greedy, eosId: -1);
        var expected = plain.Generate(prompt, budget, stopAtEos: false).ToArray();
        var produced = speculative.Generate(prompt, budget, stopAtEos: false).ToArray();
        Assert.Equal(expected, produced);
        Assert.Equal(fullSession.Position, session.Position);
        Assert.True(speculative.UsesSpeculation);
        Assert.Equal(freePositions > 0 ? GenerationStop.ContextFull : GenerationStop.TokenBudget, plain.StopReason);
        Assert.Equal(plain.StopReason, speculative.StopReason);
        Assert.Equal(produced.Length - 1, session.Statistics.VerificationPasses + session.Statistics.AcceptedDrafts);
    }

    [Fact]
    public void Eos_ends_the_output_where_plain_decoding_ends_it()
    {
        // Make a token that greedy decoding produces mid-stream play EOS, so the stop falls inside a drafted run.
        var prompt = Prompts(1)[0];
        var stream = FullDepthGreedy(prompt, Tokens);
        foreach (var eos in new[] { stream[5], stream[40], stream[100] })
        {
            using var engine = Lossless(4, 8);
            using var session = engine.CreateSession(prompt.Length + Tokens);
            using var fullSession = Full.CreateSession(prompt.Length + Tokens);
            var plain = new TextGenerator(fullSession, Greedy, eos);
            var speculative = new TextGenerator(session, Greedy, eos);
            var expected = plain.Generate(prompt, Tokens).ToArray();
            var produced = speculative.Generate(prompt, Tokens).ToArray();
            Assert.Equal(expected, produced);
            Assert.DoesNotContain(eos, produced);
            Assert.Equal(GenerationStop.EndOfSequence, plain.StopReason);
            Assert.Equal(GenerationStop.EndOfSequence, speculative.StopReason);
        }
    }

    [Fact]
    public void The_decoder_can_override_the_plans_draft_length()
    {
        var prompt = Prompts(4)[3];
        using var engine = Lossless(4, 2);
        using var session = (ISpeculativeSession)engine.CreateSession(prompt.Length + Tokens);
        var decoder = new SelfSpeculativeDecoder(session, Vocab, eosId: -1, draftTokens: 15);
        Assert.Equal(FullDepthGreedy(prompt, Tokens), decoder.Generate(prompt, Tokens, stopAtEos: false).ToArray());
        Assert.True(session.Statistics.DraftedTokens > session.Statistics.VerificationPasses * 2, "more than the plan's 2 drafts per pass");
        Assert.Throws<ArgumentOutOfRangeException>(() => new SelfSpeculativeDecoder(session, Vocab, -1, draftTokens: 16));
    }
}
