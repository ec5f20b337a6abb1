using System.Text;
using Xunit.Abstractions;

namespace SpecializedInfer.Tests.Oracles;

/// <summary>One llama.cpp oracle on stories260K.gguf shared by the tests of <see cref="LlamaCppOracleTests"/>.</summary>
public sealed class Stories260KOracleFixture : IDisposable
{
    public const string ModelFile = "stories260K.gguf";

    public Stories260KOracleFixture()
    {
        string path;
        try
        {
            path = ModelLocator.Find(ModelFile);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // Deliberately a failure, not a skip: the oracle must be proven on the real model.
            throw new InvalidOperationException(
                $"The llama.cpp oracle tests need {ModelFile} (llama2.c's stories260K converted to GGUF) in the shared model folder: {ex.Message}", ex);
        }
        Oracle = new LlamaCppOracle(path, contextSize: 512);
    }

    public LlamaCppOracle Oracle { get; }

    public void Dispose() => Oracle.Dispose();
}

public sealed class LlamaCppOracleTests(Stories260KOracleFixture fixture, ITestOutputHelper output) : IClassFixture<Stories260KOracleFixture>
{
    private const string Prompt = "Once upon a time";

    /// <summary>llama2.c run.c's greedy (temperature 0) output for stories260K after this prompt.</summary>
    private const string RunCReference = ", there was a little girl named Lily. She loved to play outside in the park.";

    private LlamaCppOracle Oracle => fixture.Oracle;

    [Fact]
    public void Reports_model_and_backend()
    {
        output.WriteLine($"native: {LlamaCppOracle.NativeLibrary}");
        output.WriteLine($"system: {LlamaCppOracle.SystemInfo}");
        output.WriteLine($"model:  {Oracle.ModelDescription}, vocab {Oracle.VocabSize}, BOS {Oracle.BosToken}, EOS {Oracle.EosToken}, n_ctx {Oracle.ContextSize}");
        Assert.Contains("CPU", LlamaCppOracle.SystemInfo);
        Assert.Equal(512, Oracle.VocabSize);
        Assert.Equal(1, Oracle.BosToken);
        Assert.Equal(2, Oracle.EosToken);
        Assert.True(Oracle.ContextSize >= 512);
    }

    [Fact]
    public void Tokenize_with_bos_starts_with_bos_and_round_trips()
    {
        var tokens = Oracle.Tokenize(Prompt, addBos: true);
        output.WriteLine(string.Join(' ', tokens));
        Assert.True(tokens.Length > 1);
        Assert.Equal(1, tokens[0]);
        Assert.Equal(Oracle.BosToken, tokens[0]);

        var withoutBos = Oracle.Tokenize(Prompt, addBos: false);
        Assert.Equal(tokens[1..], withoutBos);

        // llama_detokenize renders BOS as nothing; SentencePiece's prefix space is only stripped from a leading non-BOS token.
        Assert.Equal(" " + Prompt, Oracle.Detokenize(tokens));
        Assert.Equal(Prompt, Oracle.Detokenize(withoutBos));
        Assert.Equal("<s> " + Prompt, Oracle.Detokenize(tokens, unparseSpecial: true));

        // Single-token pieces are raw bytes; SentencePiece's U+2581 comes back as a plain space.
        var pieces = withoutBos.SelectMany(t => Oracle.TokenPiece(t)).ToArray();
        Assert.Equal(" " + Prompt, Encoding.UTF8.GetString(pieces));
        Assert.Empty(Oracle.TokenPiece(Oracle.BosToken));
        Assert.Equal("<s>", Encoding.UTF8.GetString(Oracle.TokenPiece(Oracle.BosToken, special: true)));
    }

    [Fact]
    public void Greedy_continuation_matches_llama2c_reference()
    {
        var prompt = Oracle.Tokenize(Prompt, addBos: true);
        var generated = Oracle.GreedyContinuation(prompt, 200);
        var text = Oracle.Detokenize(generated);
        output.WriteLine(text);
        Assert.Equal(200, generated.Length);
        Assert.StartsWith(RunCReference, text, StringComparison.Ordinal);

        // Deterministic and independent of previous calls (fresh KV cache).
        Assert.Equal(generated, Oracle.GreedyContinuation(prompt, 200));
        Assert.Equal(generated[..20], Oracle.GreedyContinuation(prompt, 20));
    }

    [Fact]
    public void Greedy_continuation_agrees_with_teacher_forced_logits()
    {
        var prompt = Oracle.Tokenize(Prompt, addBos: true);
        var generated = Oracle.GreedyContinuation(prompt, 40);
        var all = prompt.Concat(generated).ToArray();
        var logits = Oracle.LogitsForAllPositions(all);
        for (var k = 0; k < generated.Length; k++)
            Assert.Equal(generated[k], LlamaCppOracle.ArgMax(logits[prompt.Length - 1 + k]));
    }

    /// <remarks>
    /// Any split into decodes of two or more tokens is bit-identical to one big batch. A one-token decode is not:
    /// llama.cpp's llamafile sgemm (tinyBLAS) only handles n &gt;= 2, so n = 1 goes through ggml_vec_dot_f32, whose
    /// float32 accumulation order differs. That costs up to ~8e-6 relative (1.0e-5 .. 1.3e-5 absolute on logits of
    /// magnitude ~20), so the one-at-a-time comparison uses 1e-5 scaled by max(1, |logit|).
    /// </remarks>
    [Fact]
    public void Batched_logits_equal_one_token_at_a_time_logits()
    {
        var tokens = Oracle.Tokenize(Prompt + RunCReference, addBos: true);
        var batched = Oracle.LogitsForAllPositions(tokens);
        var single = Oracle.LogitsForAllPositions(tokens, maxBatch: 1);

        Assert.Equal(tokens.Length, batched.Length);
        Assert.Equal(tokens.Length, single.Length);
        var maxAbs = 0.0;
        var maxScaled = 0.0;
        for (var p = 0; p < tokens.Length; p++)
        {
            Assert.Equal(Oracle.VocabSize, batched[p].Length);
            Assert.All(batched[p], v => Assert.True(float.IsFinite(v)));
            for (var v = 0; v < Oracle.VocabSize; v++)
            {
                var d = Math.Abs(batched[p][v] - single[p][v]);
                maxAbs = Math.Max(maxAbs, d);
                maxScaled = Math.Max(maxScaled, d / Math.Max(1.0, Math.Abs(batched[p][v])));
            }
            Assert.Equal(LlamaCppOracle.ArgMax(batched[p]), LlamaCppOracle.ArgMax(single[p]));
        }
        output.WriteLine($"{tokens.Length} positions: max |batched - single| = {maxAbs:E3}, scaled by max(1,|logit|) = {maxScaled:E3}");
        Assert.True(maxScaled <= 1e-5, $"max |batched - single| / max(1,|logit|) = {maxScaled:E3} (absolute {maxAbs:E3})");

        // Splits into multi-token decodes (including a 1-token tail) match the single batch exactly where n >= 2.
        foreach (var split in new[] { 2, 5 })
        {
            var chunked = Oracle.LogitsForAllPositions(tokens, maxBatch: split);
            for (var p = 0; p < tokens.Length; p++)
            {
                if (tokens.Length % split == 1 && p == tokens.Length - 1) continue; // 1-token tail: vec_dot path
                Assert.Equal(batched[p], chunked[p]);
            }
        }

        // Logits rows are not all identical (each position really has its own output).
        Assert.NotEqual(batched[0], batched[^1]);

        // A second call starts from an empty KV cache: bit-identical.
        var again = Oracle.LogitsForAllPositions(tokens);
        for (var p = 0; p < tokens.Length; p++) Assert.Equal(batched[p], again[p]);
    }

    [Fact]
    public void ArgMax_breaks_ties_by_lowest_index()
    {
        Assert.Equal(1, LlamaCppOracle.ArgMax([0f, 3f, 3f, -1f]));
        Assert.Equal(0, LlamaCppOracle.ArgMax([float.NegativeInfinity, float.NegativeInfinity]));
        Assert.Throws<InvalidOperationException>(() => LlamaCppOracle.ArgMax([0f, float.NaN]));
    }

    [Fact]
    public void Rejects_sequences_longer_than_the_context()
    {
        var tooLong = Enumerable.Repeat(1, Oracle.ContextSize + 1).ToArray();
        Assert.Throws<ArgumentException>(() => Oracle.LogitsForAllPositions(tooLong));
        Assert.Throws<ArgumentException>(() => Oracle.GreedyContinuation([1], Oracle.ContextSize + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Oracle.TokenPiece(Oracle.VocabSize));
    }
}
