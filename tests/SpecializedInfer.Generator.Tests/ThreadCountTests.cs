using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// The <c>threads</c> session option splits matrix rows (in whole 16-row tiles) and attention's KV heads over a
/// session's worker pool, each output computed by one thread in one order: the logits must be the same bits on 1, 2
/// and 3 threads, in generated engines (F32 and quantized, exits, recompute, lossless drafts) and in the reference
/// engine, over a batched prompt and generated tokens.
/// </summary>
public sealed class ThreadCountTests
{
    public static TheoryData<string> Engines => new() { "S260Full", "S260q8Full", "S260Recompute", "MhaFull", "OddExits", "Q4synLossless", "S260q4Full", "QwenLossless", "Qwenq8Exits", "K4synFull" };

    [Theory]
    [MemberData(nameof(Engines))]
    public void Generated_logits_are_the_same_bits_on_1_2_and_3_threads(string engineName)
    {
        var type = EngineCatalog.ByName(engineName);
        var modelPath = TestModels.PathFor(EngineCatalog.PlanPath(type));
        using var engine = EngineCatalog.Load(type, modelPath);
        AssertSameBits(engine);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Reference_logits_are_the_same_bits_on_1_2_and_3_threads(string engineName)
    {
        var planPath = EngineCatalog.PlanPath(EngineCatalog.ByName(engineName));
        using var engine = ReferenceEngine.Load(TestModels.PathFor(planPath), planPath);
        AssertSameBits(engine);
    }

    private static void AssertSameBits(ILanguageModel engine)
    {
        var one = Logits(engine, threads: 1);
        foreach (var threads in new[] { 2, 3 })
        {
            var many = Logits(engine, threads);
            Assert.Equal(one.Count, many.Count);
            for (var i = 0; i < one.Count; i++)
                Assert.True(one[i].AsSpan().SequenceEqual(many[i]), $"{engine.Name}: logits {i} on {threads} threads differ from one thread's");
        }
    }

    /// <summary>
    /// A 20-token prompt (two chunks), 24 greedy tokens, then 12 more prompt tokens at positions 44..55 (a chunk whose
    /// positions cross a multiple of 16, so its attentions' score rows differ in length) and 4 greedy tokens: every
    /// logit vector, as bits.
    /// </summary>
    private static List<uint[]> Logits(ILanguageModel engine, int threads)
    {
        var vocab = engine.Config.VocabSize;
        using var session = engine.CreateSession(new SessionOptions { ContextLength = 64, Threads = threads });
        Assert.Equal(threads, (int)session.GetType().GetProperty("Threads")!.GetValue(session)!);
        int[] Prompt(int length, int seed) => Enumerable.Range(0, length).Select(i => (i * 37 + seed) % vocab).ToArray();
        var logits = new List<uint[]> { Bits(session.Forward(Prompt(20, 1))) };
        void Generate(int count)
        {
            for (var i = 0; i < count; i++) logits.Add(Bits(session.Forward(Comparison.ArgMax(Floats(logits[^1])))));
        }
        Generate(24);
        logits.Add(Bits(session.Forward(Prompt(12, 5))));
        Generate(4);
        return logits;
    }

    private static uint[] Bits(ReadOnlySpan<float> logits) => logits.ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();

    private static float[] Floats(uint[] bits) => bits.Select(BitConverter.UInt32BitsToSingle).ToArray();
}
