using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Generator.Tests.Support;
using SpecializedInfer.Planning;
using Xunit.Abstractions;
using static SpecializedInfer.Generator.Tests.Support.Bits;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Lossless plans: the generated session implements ISpeculativeSession. Verify must give every position the bits
/// sequential full-depth Forward(int) gives (whatever stale K/V drafting left behind), Draft must be the first
/// DraftSteps steps and the draft exit's head (the model's, or the exit's own) with the plan's exit test as its confidence, and a greedy draft/verify loop
/// must reproduce full-depth greedy decoding token for token.
/// </summary>
public sealed class SpeculativeSessionTests(ITestOutputHelper output)
{
    /// <summary>Each lossless engine with the full-model engine of its shape.</summary>
    public static TheoryData<string, string> Lossless() => new()
    {
        { "S260Lossless", "S260Full" },
        { "S260Losslessexit", "S260Full" },
        { "S260hLosslesshead", "S260Full" },
        { "WideLossless", "WideFull" },
        { "OddLossless", "OddFull" },
    };

    private static ILanguageModel Load(string name)
    {
        var type = EngineCatalog.ByName(name);
        return EngineCatalog.Load(type, TestModels.PathFor(EngineCatalog.PlanPath(type)));
    }

    private static int ArgMax(ReadOnlySpan<float> logits) => ExitMeasures.ArgMax(logits);

    [Theory]
    [MemberData(nameof(Lossless))]
    public void Forward_runs_the_whole_schedule(string losslessName, string fullName)
    {
        using var lossless = Load(losslessName);
        using var full = Load(fullName);
        using var s = lossless.CreateSession(64);
        using var f = full.CreateSession(64);
        var speculative = Assert.IsAssignableFrom<ISpeculativeSession>(s);
        Assert.Equal(lossless.Schedule.Speculation, speculative.Speculation);
        Assert.False(f is ISpeculativeSession, "a plan without kvFill lossless has no draft/verify surface");

        var token = ArgMax(s.Forward([1, 2, 3]));
        Assert.Equal(token, ArgMax(f.Forward([1, 2, 3])));
        for (var i = 0; i < 30; i++)
        {
            var expected = f.Forward(token).ToArray();
            var actual = s.Forward(token);
            AssertBitIdentical(expected, actual, $"generated token {i}");
            token = ArgMax(actual);
        }
        var steps = lossless.Schedule.Steps.Count;
        Assert.Equal(30, s.Statistics.StepsHistogram[steps]);
        Assert.All(s.Statistics.ExitsPerStep.ToArray(), e => Assert.Equal(0, e));
    }

    [Theory]
    [MemberData(nameof(Lossless))]
    public void Verify_is_bit_identical_to_sequential_full_depth_forward(string losslessName, string fullName)
    {
        using var lossless = Load(losslessName);
        using var full = Load(fullName);
        var vocab = lossless.Config.VocabSize;
        using var s = lossless.CreateSession(96);
        using var f = full.CreateSession(96);
        var speculative = (ISpeculativeSession)s;
        var tokens = Tokens(90, vocab, seed: 7);

        s.Forward(tokens.AsSpan(0, 8));
        f.Forward(tokens.AsSpan(0, 8));
        var at = 8;
        // Batches of every size from 1 to 16, each after drafts that left stale K/V in the deeper steps' slots.
        foreach (var size in new[] { 1, 2, 5, 16, 3, 16, 7, 11, 4 })
        {
            for (var d = 0; d < 4; d++) speculative.Draft(tokens[(at + d * 13) % tokens.Length], out _);
            var batch = tokens.AsSpan(at, size);
            var all = new float[size * vocab];
            speculative.Verify(at, batch, all);
            Assert.Equal(at + size, s.Position);
            for (var j = 0; j < size; j++)
                AssertBitIdentical(f.Forward(batch[j]), all.AsSpan(j * vocab, vocab), $"{losslessName}: position {at + j} of a {size}-token verification");
            at += size;
        }

        // Verification rewinds: verifying the last batch again from its start gives the same bits.
        var again = new float[4 * vocab];
        speculative.Verify(at - 4, tokens.AsSpan(at - 4, 4), again);
        // Fed as the speculative session was: the same 8-token prompt (the prompt GEMM), then one token at a time,
        // which is what every verified position's cache equals bit for bit.
        var sequential = full.CreateSession(96);
        sequential.Forward(tokens.AsSpan(0, 8));
        for (var i = 8; i < at - 4; i++) sequential.Forward(tokens[i]);
        for (var j = 0; j < 4; j++)
            AssertBitIdentical(sequential.Forward(tokens[at - 4 + j]), again.AsSpan(j * vocab, vocab), $"re-verified position {at - 4 + j}");
        sequential.Dispose();

        Assert.Throws<ArgumentException>(() => speculative.Verify(at, tokens.AsSpan(0, 2), new float[vocab]));
        Assert.Throws<ArgumentOutOfRangeException>(() => speculative.Verify(at + 1, tokens.AsSpan(0, 1), new float[vocab]));
    }

    [Theory]
    [MemberData(nameof(Lossless))]
    public void Verify_reusing_the_drafts_is_bit_identical_to_sequential_forward(string losslessName, string fullName)
    {
        using var lossless = Load(losslessName);
        using var full = Load(fullName);
        var vocab = lossless.Config.VocabSize;
        using var s = lossless.CreateSession(128);
        using var f = full.CreateSession(128);
        var speculative = (ISpeculativeSession)s;
        var tokens = Tokens(120, vocab, seed: 11);
        s.Forward(tokens.AsSpan(0, 6));
        f.Forward(tokens.AsSpan(0, 6));
        var at = 6;
        // (drafts, verified, how many leading drafts the verification repeats): all, a prefix, none, more tokens than drafts.
        foreach (var (drafts, size, same) in new[] { (4, 4, 4), (5, 6, 5), (4, 5, 2), (3, 3, 0), (6, 7, 6), (2, 1, 1), (15, 16, 15) })
        {
            for (var d = 0; d < drafts; d++) speculative.Draft(tokens[at + d], out _);
            var batch = tokens.AsSpan(at, size).ToArray();
            if (same < size) batch[same] = (batch[same] + 1) % vocab;
            var observer = new RecordingObserver();
            s.Observer = observer;
            var all = new float[size * vocab];
            speculative.Verify(at, batch, all);
            s.Observer = null;
            Assert.Equal(at + size, s.Position);
            for (var j = 0; j < size; j++)
                AssertBitIdentical(f.Forward(batch[j]), all.AsSpan(j * vocab, vocab), $"{losslessName}: position {at + j}, {same} of {drafts} drafts repeated");
            // Every position gets the steps it runs here reported once: reused drafts only those after the draft steps.
            var draftSteps = speculative.Speculation.DraftSteps;
            var steps = lossless.Schedule.Steps.Count;
            var reused = Math.Min(same, drafts);
            var expected = Enumerable.Range(at, size).SelectMany(p => Enumerable.Range(p - at < reused ? draftSteps : 0, p - at < reused ? steps - draftSteps : steps).Select(step => (p, step)));
            Assert.Equal(expected.Order(), observer.Calls.Select(c => (c.Position, c.Step)).Order());
            for (var j = 0; j < size; j++) tokens[at + j] = batch[j];
            at += size;
        }
    }

    [Theory]
    [MemberData(nameof(Lossless))]
    public void SelfSpeculativeDecoder_on_the_generated_engine_matches_the_reference(string losslessName, string fullName)
    {
        _ = fullName;
        var type = EngineCatalog.ByName(losslessName);
        var planPath = EngineCatalog.PlanPath(type);
        var modelPath = TestModels.PathFor(planPath);
        using var generated = EngineCatalog.Load(type, modelPath);
        using var reference = ReferenceEngine.Load(modelPath, planPath);
        var vocab = generated.Config.VocabSize;
        int[] prompt = [1, 403 % vocab, 407 % vocab, 261 % vocab];
        using var g = (ISpeculativeSession)generated.CreateSession(200);
        using var r = (ISpeculativeSession)reference.CreateSession(200);
        var gTokens = new SelfSpeculativeDecoder(g, vocab, eosId: -1).Generate(prompt, 150, stopAtEos: false).ToList();
        var rTokens = new SelfSpeculativeDecoder(r, vocab, eosId: -1).Generate(prompt, 150, stopAtEos: false).ToList();
        Assert.Equal(rTokens, gTokens);
        Assert.Equal(r.Statistics.VerificationPasses, g.Statistics.VerificationPasses);
        Assert.Equal(r.Statistics.AcceptedDrafts, g.Statistics.AcceptedDrafts);
        Assert.Equal(r.Statistics.GeneratedTokens, g.Statistics.GeneratedTokens);
        output.WriteLine($"{losslessName}: {g.Statistics.VerificationPasses} verifications, acceptance {g.Statistics.AcceptanceRate:P1}");

        // Draft and Verify themselves, position by position, within the engines' usual tolerance.
        var a = new float[3 * vocab];
        var b = new float[3 * vocab];
        var start = g.Position;
        Assert.True(Comparison.MaxAbsDiff(r.Draft(5, out var rc), g.Draft(5, out var gc)) <= Comparison.Tolerance);
        Assert.Equal(rc, gc);
        r.Verify(start, [5, 6, 7], a);
        g.Verify(start, [5, 6, 7], b);
        Assert.True(Comparison.MaxAbsDiff(a, b) <= Comparison.Tolerance);
    }

    [Fact]
    public void Drafts_equal_the_generated_tokens_of_a_decode_depth_2_plan()
    {
        using var lossless = Load("S260Lossless");
        using var depth2 = Load("S260Depth2");
        Assert.Equal(2, ((ISpeculativeSession)lossless.CreateSession(8)).Speculation.DraftSteps);
        Assert.Equal(2, depth2.Schedule.DecodeDepth);
        using var s = lossless.CreateSession(128);
        using var d = depth2.CreateSession(128);
        var speculative = (ISpeculativeSession)s;
        var observer = new RecordingObserver();
        s.Observer = observer;

        int[] prompt = [1, 403, 407, 261, 378, 13, 30, 72];
        var token = ArgMax(s.Forward(prompt));
        Assert.Equal(token, ArgMax(d.Forward(prompt)));
        observer.Calls.Clear();
        // Drafts only ever read steps 0 and 1, which both sessions computed for real at every position, so the whole
        // chain matches, not just its first token: same kernels, same bits.
        for (var i = 0; i < 40; i++)
        {
            var draft = speculative.Draft(token, out var confident).ToArray();
            Assert.True(confident, "no exit point after step 1: every draft is confident");
            AssertBitIdentical(d.Forward(token), draft, $"draft {i}");
            token = ArgMax(draft);
        }
        Assert.Equal(prompt.Length + 40, s.Position);
        Assert.Equal(Enumerable.Range(prompt.Length, 40).SelectMany(p => new[] { (p, 0), (p, 1) }), observer.Calls.Select(c => (c.Position, c.Step)));
        Assert.Equal(0, s.Statistics.GeneratedTokens); // the decoder records verification outcomes, not the session
    }

    [Theory]
    [InlineData("S260Losslessexit")]
    [InlineData("WideLossless")]
    [InlineData("OddLossless")]
    public void Draft_confidence_is_the_plans_exit_test(string name)
    {
        using var engine = Load(name);
        var exit = engine.Schedule.Steps[engine.Schedule.Speculation!.DraftSteps - 1].ExitAfter!;
        using var s = engine.CreateSession(128);
        var speculative = (ISpeculativeSession)s;
        var scratch = new float[engine.Config.VocabSize];
        var token = ArgMax(s.Forward([1, 2, 3, 4]));
        int confident = 0, doubtful = 0;
        for (var i = 0; i < 100; i++)
        {
            var draft = speculative.Draft(token, out var sure);
            var expected = exit.Criterion switch
            {
                ExitCriterion.MaxProbability => ExitMeasures.MaxProbability(draft, scratch) >= exit.Threshold,
                ExitCriterion.Margin => ExitMeasures.Margin(draft, scratch) >= exit.Threshold,
                ExitCriterion.Entropy => ExitMeasures.Entropy(draft, scratch) <= exit.Threshold,
                _ => throw new NotSupportedException(exit.Criterion.ToString()),
            };
            Assert.Equal(expected, sure);
            if (sure) confident++; else doubtful++;
            // Mix the sequence up so both outcomes occur on the synthetic models.
            token = i % 3 == 2 ? (token * 7 + i) % engine.Config.VocabSize : ArgMax(draft);
        }
        output.WriteLine($"{name} ({exit.Test.Describe()}): {confident} confident, {doubtful} not");
        Assert.True(confident > 0 && doubtful > 0, $"the threshold should split the drafts ({confident} confident, {doubtful} not)");
    }

    [Theory]
    [MemberData(nameof(Lossless))]
    public void Greedy_draft_and_verify_equals_full_depth_greedy(string losslessName, string fullName)
    {
        using var lossless = Load(losslessName);
        using var full = Load(fullName);
        var vocab = lossless.Config.VocabSize;
        var context = Math.Min(lossless.Config.ContextLength, 512);
        long drafted = 0, accepted = 0, passes = 0;
        for (var p = 0; p < 8; p++)
        {
            var prompt = Tokens(3 + p, vocab, seed: 100 + p);
            prompt[0] = 1;
            var count = Math.Min(256, context - prompt.Length - 17);

            var expected = new List<int>();
            using (var f = full.CreateSession(context))
            {
                var next = ArgMax(f.Forward(prompt));
                while (expected.Count < count)
                {
                    expected.Add(next);
                    next = ArgMax(f.Forward(next));
                }
            }

            using var s = lossless.CreateSession(context);
            var speculative = (ISpeculativeSession)s;
            var k = speculative.Speculation.DraftTokens;
            var all = new float[(k + 1) * vocab];
            var produced = new List<int>();
            var confirmed = ArgMax(s.Forward(prompt));
            var batch = new List<int>();
            while (produced.Count < count)
            {
                var start = s.Position;
                batch.Clear();
                batch.Add(confirmed);
                var last = confirmed;
                for (var i = 0; i < k; i++)
                {
                    last = ArgMax(speculative.Draft(last, out var sure));
                    batch.Add(last);
                    if (!sure) break;
                }
                var logits = all.AsSpan(0, batch.Count * vocab);
                speculative.Verify(start, batch.ToArray(), logits);
                passes++;
                drafted += batch.Count - 1;
                produced.Add(confirmed);
                var j = 0;
                while (true)
                {
                    var best = ArgMax(logits.Slice(j * vocab, vocab));
                    if (j + 1 < batch.Count && batch[j + 1] == best)
                    {
                        produced.Add(best);
                        accepted++;
                        j++;
                        continue;
                    }
                    confirmed = best;
                    break;
                }
                s.Rewind(start + j + 1);
            }
            Assert.Equal(expected, produced.Take(count));
        }
        output.WriteLine($"{losslessName}: {passes} verifications, {drafted} drafted, {accepted} accepted ({(double)accepted / drafted:P1})");
        Assert.True(accepted > 0, "no draft was ever accepted: drafting is not doing its job");
        Assert.True(accepted < drafted, "every draft was accepted: the comparison never exercised a rejection");
    }
}
