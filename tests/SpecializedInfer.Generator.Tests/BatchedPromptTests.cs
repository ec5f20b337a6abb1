using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Support;
using static SpecializedInfer.Generator.Tests.Support.Bits;
using Xunit.Abstractions;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Generated engines evaluate a prompt in chunks of up to 64 positions with batched kernels. Every position's
/// arithmetic must be the single-position path's: the logits and every hidden state the observer sees are compared
/// bit for bit with feeding the same tokens one at a time through Forward(int) at full depth, across the chunk
/// boundaries (lengths 63, 64, 65, 120), through every way a chunk splits into the products' groups of 3 positions
/// and single ones (7, 11, 63, 64), and on every test shape (tails of each width, GQA ratios, prefetching kernels; the
/// mha down projection, 1400 columns, takes the Vector512 slices of 512 columns, the last an odd vector count, and a tail).
/// </summary>
public sealed class BatchedPromptTests(ITestOutputHelper output)
{
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
    public void Batched_prompt_is_bit_identical_to_one_token_at_a_time(string engineName, int length)
    {
        var type = EngineCatalog.ByName(engineName);
        var planPath = EngineCatalog.PlanPath(type);
        var modelPath = TestModels.PathFor(planPath);
        using var engine = EngineCatalog.Load(type, modelPath);
        Assert.True(engine.Schedule.IsFullModel);
        var vocab = engine.Config.VocabSize;
        var tokens = Tokens(length, vocab, seed: length * 31 + vocab);

        using var batched = engine.CreateSession(128);
        using var single = engine.CreateSession(128);
        var batchedObserver = new RecordingObserver();
        var singleObserver = new RecordingObserver();
        batched.Observer = batchedObserver;
        single.Observer = singleObserver;

        var batchedLogits = batched.Forward(tokens).ToArray();
        var singleLogits = Array.Empty<float>();
        foreach (var token in tokens) singleLogits = single.Forward(token).ToArray();

        AssertBitIdentical(singleLogits, batchedLogits, $"{engineName}, {length} tokens: logits after the prompt");
        Assert.Equal(length, batched.Position);
        Assert.Equal(length, batched.Statistics.PromptTokens);
        Assert.Equal(0, batched.Statistics.GeneratedTokens);

        // Every hidden state, not only the last position's: a difference in an early position could otherwise wash out.
        var expectedCalls = singleObserver.Calls.OrderBy(c => c.Position).ThenBy(c => c.Step).ToList();
        var actualCalls = batchedObserver.Calls.OrderBy(c => c.Position).ThenBy(c => c.Step).ToList();
        Assert.Equal(expectedCalls.Select(c => (c.Position, c.Step, c.Layer)), actualCalls.Select(c => (c.Position, c.Step, c.Layer)));
        for (var i = 0; i < expectedCalls.Count; i++)
            AssertBitIdentical(expectedCalls[i].Hidden, actualCalls[i].Hidden, $"{engineName}: hidden state after step {expectedCalls[i].Step} at position {expectedCalls[i].Position}");

        // Decoding on from a batched prompt reads the cache the chunks wrote: it must match as well.
        var next = Comparison.ArgMax(batchedLogits);
        AssertBitIdentical(single.Forward(next), batched.Forward(next), $"{engineName}: the token after a {length}-token prompt");

        using var reference = ReferenceEngine.Load(modelPath, planPath);
        using var r = reference.CreateSession(128);
        var worst = Comparison.MaxAbsDiff(r.Forward(tokens), batchedLogits);
        output.WriteLine($"{engineName}, {length} tokens: bit-identical to one at a time; {worst:E2} from the reference");
        Assert.True(worst <= Comparison.Tolerance, $"{worst} from the reference");
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
