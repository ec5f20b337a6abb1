using SpecializedInfer.Engine;
using SpecializedInfer.Sampling;
using SpecializedInfer.Oracles;
using SpecializedInfer.Tests.Support;

namespace SpecializedInfer.Tests.Engine;

/// <summary>
/// The reference engine against llama.cpp (F32 KV cache, no flash attention, one thread) on the real stories260K
/// model and on synthetic shapes. Token ids come from llama.cpp's own tokenizer so these tests judge the forward
/// pass alone.
/// </summary>
public sealed class ReferenceEngineVsLlamaCppTests : IClassFixture<SyntheticModels>
{
    private const float LogitTolerance = 1e-4f;
    private readonly SyntheticModels _synthetic;

    public ReferenceEngineVsLlamaCppTests(SyntheticModels synthetic) => _synthetic = synthetic;

    private static string Stories => ModelLocator.Find("stories260K.gguf");

    public static TheoryData<string> LogitPrompts => new()
    {
        "Once upon a time",
        "The little dog ran to the park, and he was very happy!",
        "Tom said, \"I want 3 apples.\" Mom smiled.",
        "Lily and Ben played with a big red ball in the garden. The sun was warm and the birds sang. Then it began to rain, so they ran inside and drank hot milk.",
    };

    [Theory]
    [MemberData(nameof(LogitPrompts))]
    public void Logits_match_llama_cpp_at_every_position(string prompt)
    {
        using var oracle = new LlamaCppOracle(Stories);
        var tokens = oracle.Tokenize(prompt, addBos: true);
        AssertLogitsMatch(oracle, Stories, tokens);
    }

    [Fact]
    public void Logits_match_llama_cpp_over_a_long_sequence()
    {
        // 600 positions: attention spans, RoPE angles and cache offsets far from the start, and a session whose cache
        // grows twice on the way (ContextCapacity: 256 positions, then 512, then the 608 the context needs).
        using var oracle = new LlamaCppOracle(Stories, contextSize: 640);
        var tokens = new[] { oracle.BosToken }.Concat(oracle.GreedyContinuation(oracle.Tokenize("Once upon a time", true), 599)).ToArray();
        AssertLogitsMatch(oracle, Stories, tokens);
    }

    public static TheoryData<string> GreedyPrompts => new()
    {
        "Once upon a time",
        "The cat",
        "Sara had a little red car. One day",
        "\"Can I play too?\" asked Max.",
        "",
    };

    [Theory]
    [MemberData(nameof(GreedyPrompts))]
    public void Greedy_200_token_continuation_matches_llama_cpp(string prompt)
    {
        using var oracle = new LlamaCppOracle(Stories);
        var promptTokens = oracle.Tokenize(prompt, addBos: true);
        var expected = oracle.GreedyContinuation(promptTokens, 200);

        using var engine = ReferenceEngine.Load(Stories);
        using var session = engine.CreateSession(512);
        var logits = session.Forward(promptTokens);
        var actual = new List<int>();
        while (actual.Count < expected.Length)
        {
            var next = Sampler.ArgMax(logits);
            actual.Add(next);
            logits = session.Forward(next);
        }
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData("odd")]
    [InlineData("wide")]
    public void Logits_match_llama_cpp_on_synthetic_shapes(string name)
    {
        var path = _synthetic.PathOf(name);
        using var oracle = new LlamaCppOracle(path, contextSize: 256);
        var rng = new Random(5);
        var tokens = new[] { oracle.BosToken }.Concat(Enumerable.Range(0, 63).Select(_ => rng.Next(3, oracle.VocabSize))).ToArray();
        AssertLogitsMatch(oracle, path, tokens);
    }

    [Fact]
    public void Logits_match_llama_cpp_with_one_row_matrices()
    {
        // si synth --dim 8 --hidden 1: the feed-forward gate and up projections are 1 × 8 matrices (stored [8, 1]),
        // which the loader once took for norm vectors and refused.
        var dir = Directory.CreateTempSubdirectory("si-one-row-").FullName;
        try
        {
            var path = Path.Combine(dir, "one-row.gguf");
            Synthesis.SyntheticModel.Write(new Synthesis.SyntheticModelSpec
            {
                Name = "one-row", Dim = 8, HiddenDim = 1, Layers = 2, Heads = 2, VocabSize = Synthesis.SyntheticVocabulary.MinimumSize, ContextLength = 64, Seed = 21,
            }, path);
            using (var engine = ReferenceEngine.Load(path))
                Assert.Equal((1, 8), (engine.Weights.Layer(0).Gate.Rows, engine.Weights.Layer(0).Gate.Cols));
            using var oracle = new LlamaCppOracle(path, contextSize: 64);
            var rng = new Random(6);
            AssertLogitsMatch(oracle, path, [oracle.BosToken, .. Enumerable.Range(0, 31).Select(_ => rng.Next(3, oracle.VocabSize))]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Logits_match_llama_cpp_when_attention_scores_pass_the_range_of_exp()
    {
        // stories260K's weights read as 4 heads of 16 (the checkpoint reshaped: n_heads 4, n_kv_heads 2, seq_len 256
        // keep every array's size) give attention scores above 88, where exp overflows float: the softmax must work
        // relative to the maximum, as llama.cpp's does.
        var dir = Directory.CreateTempSubdirectory("si-large-scores-").FullName;
        try
        {
            var checkpoint = File.ReadAllBytes(ModelLocator.Find("stories260K.bin"));
            BitConverter.TryWriteBytes(checkpoint.AsSpan(12), 4);
            BitConverter.TryWriteBytes(checkpoint.AsSpan(16), 2);
            BitConverter.TryWriteBytes(checkpoint.AsSpan(24), 256);
            var bin = Path.Combine(dir, "reshaped.bin");
            File.WriteAllBytes(bin, checkpoint);
            var path = Path.Combine(dir, "reshaped.gguf");
            Conversion.Llama2cConverter.Convert(bin, ModelLocator.Find("tok512.bin"), path);
            using var oracle = new LlamaCppOracle(path, contextSize: 64);
            AssertLogitsMatch(oracle, path, oracle.Tokenize("Once upon a time, there was a little girl", addBos: true));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void AssertLogitsMatch(LlamaCppOracle oracle, string modelPath, int[] tokens)
    {
        var expected = oracle.LogitsForAllPositions(tokens);
        using var engine = ReferenceEngine.Load(modelPath);
        using var session = engine.CreateSession(tokens.Length);
        Assert.Equal(oracle.VocabSize, engine.Config.VocabSize);
        for (var pos = 0; pos < tokens.Length; pos++)
        {
            var actual = session.Forward(tokens[pos]);
            var worst = 0f;
            var worstAt = 0;
            for (var i = 0; i < actual.Length; i++)
            {
                var d = MathF.Abs(actual[i] - expected[pos][i]);
                if (!(d <= worst)) { worst = d; worstAt = i; }
            }
            Assert.True(worst <= LogitTolerance,
                $"position {pos}: logit {worstAt} is {actual[worstAt]} here, {expected[pos][worstAt]} in llama.cpp (|diff| {worst:E2} > {LogitTolerance:E0})");
        }
    }
}
