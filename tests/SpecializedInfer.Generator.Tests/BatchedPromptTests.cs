using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Support;
using static SpecializedInfer.Generator.Tests.Support.Bits;
using Xunit.Abstractions;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Generated engines evaluate a prompt in chunks of up to 64 positions, the F32 projections as the prompt GEMM
/// (PromptGemm: lanes along the positions, one FMA chain per output over the columns in order). Its bits must not
/// depend on how the prompt is cut: the logits and every hidden state the observer sees are compared bit for bit
/// between one call, calls of 5 and 19 tokens and the rest, one token per call, and two threads instead of one. They
/// are no longer the single-position path's (dot-product form, several chains folded): against feeding the tokens
/// one at a time through Forward(int) the logits stay within <see cref="Comparison.Tolerance"/> (1e-4) and the hidden
/// states within <see cref="HiddenTolerance"/>, and the reference engine within the same 1e-4, across the chunk
/// boundaries (lengths 63, 64, 65, 120), every count of 16-position vectors (1, 7, 11, 63), and every test shape
/// (tails of each width, GQA ratios, the mha down projection's 1400 columns, rows not a multiple of the 6-row tile).
/// Lossless verification keeps the exact kernels: SpeculativeSessionTests hold it to Forward(int)'s bits.
/// </summary>
public sealed class BatchedPromptTests(ITestOutputHelper output)
{
    /// <summary>Hidden states (values up to a few tens) after different summation orders: rounding, far below this.</summary>
    private const float HiddenTolerance = 1e-3f;

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var engine in new[] { "S260Full", "OddFull", "WideFull", "MhaFull" })
            foreach (var length in new[] { 1, 7, 11, 63, 64, 65, 120 })
                data.Add(engine, length);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Batched_prompt_is_the_same_however_it_is_cut_and_close_to_one_token_at_a_time(string engineName, int length)
    {
        var type = EngineCatalog.ByName(engineName);
        var planPath = EngineCatalog.PlanPath(type);
        var modelPath = TestModels.PathFor(planPath);
        using var engine = EngineCatalog.Load(type, modelPath);
        Assert.True(engine.Schedule.IsFullModel);
        var vocab = engine.Config.VocabSize;
        var tokens = Tokens(length, vocab, seed: length * 31 + vocab);

        using var batched = engine.CreateSession(new SessionOptions { ContextLength = 128, Threads = 1 });
        var batchedObserver = new RecordingObserver();
        batched.Observer = batchedObserver;
        var batchedLogits = batched.Forward(tokens).ToArray();
        Assert.Equal(length, batched.Position);
        Assert.Equal(length, batched.Statistics.PromptTokens);
        Assert.Equal(0, batched.Statistics.GeneratedTokens);

        // The same bits however the prompt is cut and however many threads share the rows.
        var cuts = new (string What, int Threads, int[] Calls)[]
        {
            ("two threads", 2, [length]),
            ("calls of 5, 19 and the rest", 1, [Math.Min(5, length), Math.Min(19, Math.Max(0, length - 5)), Math.Max(0, length - 24)]),
            ("one token per call", 1, Enumerable.Repeat(1, length).ToArray()),
        };
        foreach (var (what, threads, calls) in cuts)
        {
            using var cut = engine.CreateSession(new SessionOptions { ContextLength = 128, Threads = threads });
            var observer = new RecordingObserver();
            cut.Observer = observer;
            var logits = Array.Empty<float>();
            var at = 0;
            foreach (var count in calls.Where(c => c > 0))
            {
                logits = cut.Forward(tokens.AsSpan(at, count)).ToArray();
                at += count;
            }
            AssertBitIdentical(batchedLogits, logits, $"{engineName}, {length} tokens, {what}: logits after the prompt");
            AssertSameCalls(batchedObserver, observer, (e, a, c) => AssertBitIdentical(e, a, $"{engineName}, {what}: hidden state after step {c.Step} at position {c.Position}"));
        }

        // One token at a time through Forward(int): within rounding, every hidden state too (a difference in an early
        // position could otherwise wash out), and decoding on from either cache.
        using var single = engine.CreateSession(128);
        var singleObserver = new RecordingObserver();
        single.Observer = singleObserver;
        var singleLogits = Array.Empty<float>();
        foreach (var token in tokens) singleLogits = single.Forward(token).ToArray();
        var logitGap = Comparison.MaxAbsDiff(singleLogits, batchedLogits);
        Assert.True(logitGap <= Comparison.Tolerance, $"{engineName}, {length} tokens: logits {logitGap} from one at a time");
        var hiddenGap = 0f;
        AssertSameCalls(singleObserver, batchedObserver, (e, a, _) => hiddenGap = Math.Max(hiddenGap, Comparison.MaxAbsDiff(e, a)));
        Assert.True(hiddenGap <= HiddenTolerance, $"{engineName}, {length} tokens: hidden states {hiddenGap} from one at a time");
        var next = Comparison.ArgMax(batchedLogits);
        var nextGap = Comparison.MaxAbsDiff(single.Forward(next), batched.Forward(next));
        Assert.True(nextGap <= Comparison.Tolerance, $"{engineName}: the token after a {length}-token prompt, {nextGap} from one at a time");

        using var reference = ReferenceEngine.Load(modelPath, planPath);
        using var r = reference.CreateSession(128);
        var worst = Comparison.MaxAbsDiff(r.Forward(tokens), batchedLogits);
        output.WriteLine($"{engineName}, {length} tokens: one at a time {logitGap:E2} (hidden {hiddenGap:E2}); {worst:E2} from the reference");
        Assert.True(worst <= Comparison.Tolerance, $"{worst} from the reference");
    }

    /// <summary>The observer saw the same (position, step, layer) calls; <paramref name="compare"/> gets each pair of hidden states.</summary>
    private static void AssertSameCalls(RecordingObserver expected, RecordingObserver actual, Action<float[], float[], (int Position, int Step, int Layer, float[] Hidden)> compare)
    {
        var e = expected.Calls.OrderBy(c => c.Position).ThenBy(c => c.Step).ToList();
        var a = actual.Calls.OrderBy(c => c.Position).ThenBy(c => c.Step).ToList();
        Assert.Equal(e.Select(c => (c.Position, c.Step, c.Layer)), a.Select(c => (c.Position, c.Step, c.Layer)));
        for (var i = 0; i < e.Count; i++) compare(e[i].Hidden, a[i].Hidden, e[i]);
    }

    /// <summary>
    /// A quantized engine's batched products load a tile's weights once for 4 (Q8_0) or 8 (Q4_0) positions and run the
    /// positions left over one by one: every prompt length from 1 to 13 (none, some and all left over, on both) must
    /// give the bits of the same prompt fed one token per call, on one thread and two.
    /// </summary>
    [Theory]
    [InlineData("S260q8Full")]
    [InlineData("S260q4Full")]
    [InlineData("Q4synLossless")]
    public void Quantized_prompts_of_every_length_are_the_bits_of_one_token_per_call(string engineName)
    {
        var type = EngineCatalog.ByName(engineName);
        using var engine = EngineCatalog.Load(type, TestModels.PathFor(EngineCatalog.PlanPath(type)));
        for (var length = 1; length <= 13; length++)
        {
            var tokens = Tokens(length, engine.Config.VocabSize, seed: length);
            using var single = engine.CreateSession(16);
            var expected = Array.Empty<float>();
            for (var i = 0; i < length; i++) expected = single.Forward(tokens.AsSpan(i, 1)).ToArray();
            foreach (var threads in new[] { 1, 2 })
            {
                using var whole = engine.CreateSession(new SessionOptions { ContextLength = 16, Threads = threads });
                AssertBitIdentical(expected, whole.Forward(tokens).ToArray(), $"{engineName}, {length} tokens in one call on {threads} thread(s)");
            }
        }
    }

    [Fact]
    public void Prompts_split_across_calls_and_chunks_agree_with_one_call()
    {
        var type = EngineCatalog.ByName("WideFull");
        using var engine = EngineCatalog.Load(type, TestModels.PathFor(EngineCatalog.PlanPath(type)));
        var tokens = Tokens(37, engine.Config.VocabSize, seed: 5);
        using var whole = engine.CreateSession(64);
        using var parts = engine.CreateSession(64);
        var expected = whole.Forward(tokens).ToArray();
        parts.Forward(tokens.AsSpan(0, 5));
        parts.Forward(tokens.AsSpan(5, 19));
        AssertBitIdentical(expected, parts.Forward(tokens.AsSpan(24)), "37 tokens as 5 + 19 + 13");

        // Rewinding into a chunk and re-running its tail overwrites the cache exactly.
        parts.Rewind(10);
        AssertBitIdentical(expected, parts.Forward(tokens.AsSpan(10)), "after rewinding to 10");
    }
}
