using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Oracles;
using SpecializedInfer.Planning;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Tests.Architectures;

/// <summary>
/// The architectures of the small models people run, on synthetic files of their shapes (dims shrunk so a test
/// takes a second), against llama.cpp's logits at every position: Llama 3.2 (rope frequency factors, tied output,
/// base 500000), Qwen2.5 (query/key/value biases, half-split rotary pairs, ε 1e-6, one KV head for seven), SmolLM2
/// (heads of 64 with three heads per KV head), heads whose width is the file's key_length rather than dim / heads
/// (Qwen3, Mistral Nemo), and a tied output whose embedding matrix is Q8_0. F32 files agree to
/// 1e-4. Q8_0 files are held to QuantizedVsLlamaCppTests' rule: at most half the logit change quantization itself
/// causes (llama.cpp on the Q8_0 file against llama.cpp on the F32 file the same seed writes), because llama.cpp's
/// vector lanes sum blocks in another order and a last-bit difference can move a later activation across a
/// rounding step of its quantization (measured: 2e-7 for the first positions, then ~3e-2 from position 13 or so).
/// </summary>
public sealed class ArchitecturesVsLlamaCppTests : IClassFixture<ArchitecturesVsLlamaCppTests.Files>
{
    private const float LogitTolerance = 1e-4f;

    public static readonly SyntheticModelSpec Llama32 = new()
    {
        Name = "llama-3.2-shape", Dim = 128, HiddenDim = 384, Layers = 3, Heads = 8, KvHeads = 2, VocabSize = 600, ContextLength = 256,
        RopeTheta = 500000f, Llama3RopeScaling = true, Seed = 31,
    };

    public static readonly SyntheticModelSpec Qwen25 = new()
    {
        Name = "qwen2.5-shape", Architecture = DecoderArchitecture.Qwen2, Dim = 224, HiddenDim = 608, Layers = 3, Heads = 7, KvHeads = 1,
        VocabSize = 600, ContextLength = 256, RopeTheta = 1000000f, NormEps = 1e-6f, Seed = 32,
    };

    public static readonly SyntheticModelSpec SmolLm2 = new()
    {
        Name = "smollm2-shape", Dim = 192, HiddenDim = 512, Layers = 3, Heads = 3, KvHeads = 1, VocabSize = 600, ContextLength = 256,
        RopeTheta = 100000f, Seed = 33,
    };

    /// <summary>Heads wider than dim / heads (Qwen3's and Mistral Nemo's attention.key_length): 4 heads of 48 over dim 128, so the query is 192 wide.</summary>
    public static readonly SyntheticModelSpec WideHeads = new()
    {
        Name = "wide-heads", Dim = 128, HiddenDim = 384, Layers = 3, Heads = 4, KvHeads = 2, HeadDim = 48, VocabSize = 600, ContextLength = 256,
        RopeTheta = 1000000f, NormEps = 1e-6f, Seed = 36,
    };

    public static readonly SyntheticModelSpec Llama32Q8 = Llama32 with { Name = "llama-3.2-shape-q8_0", MatrixType = GgmlType.Q8_0, Seed = 34 };

    public static readonly SyntheticModelSpec Qwen25Q8 = Qwen25 with { Name = "qwen2.5-shape-q8_0", MatrixType = GgmlType.Q8_0, Seed = 35 };

    private static readonly SyntheticModelSpec[] All = [Llama32, Qwen25, SmolLm2, WideHeads, Llama32Q8, Qwen25Q8];

    /// <summary>The files, written once per run.</summary>
    public sealed class Files : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("si-architectures-").FullName;

        public Files()
        {
            foreach (var spec in All) SyntheticModel.Write(spec, PathOf(spec.Name));
        }

        public string PathOf(string name) => Path.Combine(_dir, name + ".gguf");

        public void Dispose()
        {
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private readonly Files _files;

    public ArchitecturesVsLlamaCppTests(Files files) => _files = files;

    public static TheoryData<string> Shapes => new(All.Select(s => s.Name));

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Logits_match_llama_cpp_at_every_position(string name)
    {
        var spec = All.Single(s => s.Name == name);
        var path = _files.PathOf(name);
        using var oracle = new LlamaCppOracle(path, contextSize: 256);
        var rng = new Random(7);
        // 96 positions: long enough that the slow rotary pairs (the ones Llama 3's factors scale) have turned.
        var tokens = new[] { oracle.BosToken }.Concat(Enumerable.Range(0, 95).Select(_ => rng.Next(3, oracle.VocabSize))).ToArray();
        var expected = oracle.LogitsForAllPositions(tokens, maxBatch: 1);
        var tolerance = (double)LogitTolerance;
        if (spec.MatrixType != GgmlType.F32)
        {
            var twin = _files.PathOf(name + "-f32");
            SyntheticModel.Write(spec with { MatrixType = GgmlType.F32 }, twin);
            using var f32 = new LlamaCppOracle(twin, contextSize: 256);
            var unquantized = f32.LogitsForAllPositions(tokens, maxBatch: 1);
            tolerance = 0.5 * expected.Zip(unquantized).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
        }
        using var engine = ReferenceEngine.Load(path);
        using var session = engine.CreateSession(tokens.Length);
        for (var pos = 0; pos < tokens.Length; pos++)
        {
            var actual = session.Forward(tokens[pos]);
            var (worst, at) = Worst(actual, expected[pos]);
            Assert.True(worst <= tolerance,
                $"{name}, position {pos}: logit {at} is {actual[at]} here, {expected[pos][at]} in llama.cpp (|diff| {worst:E2} > {tolerance:E2})");
        }
    }

    [Fact]
    public void The_features_under_test_are_in_the_files()
    {
        using (var llama = ReferenceEngine.Load(_files.PathOf(Llama32.Name)))
        {
            Assert.True(llama.Config.RopeFrequencyFactors);
            var factors = llama.Weights.RopeFrequencies!.Value.Span.ToArray();
            Assert.Contains(1f, factors);
            Assert.Contains(32f, factors); // both ends of Llama 3's scaling, so the test checks the division
            Assert.True(llama.Config.TiedOutput);
        }
        using (var qwen = ReferenceEngine.Load(_files.PathOf(Qwen25.Name)))
        {
            Assert.Equal(RopeStyle.HalfSplit, qwen.Config.RopeStyle);
            Assert.NotNull(qwen.Weights.Layer(0).Biases);
        }
        using (var wide = ReferenceEngine.Load(_files.PathOf(WideHeads.Name)))
        {
            Assert.Equal(48, wide.Config.HeadDim);
            Assert.Equal(192, wide.Config.QueryDim); // ≠ dim 128
            Assert.Equal(128, wide.Weights.Layer(0).Output.Rows);
            Assert.Equal(192, wide.Weights.Layer(0).Output.Cols);
        }
        using var q8 = ReferenceEngine.Load(_files.PathOf(Llama32Q8.Name));
        Assert.True(q8.Config.TiedOutput);
        Assert.True(q8.Weights.Output.IsQuantized); // the tied head multiplies the Q8_0 embedding in its blocks
    }

    private static (float Worst, int At) Worst(ReadOnlySpan<float> actual, float[] expected)
    {
        var worst = 0f;
        var at = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var d = MathF.Abs(actual[i] - expected[i]);
            if (!(d <= worst)) { worst = d; at = i; }
        }
        return (worst, at);
    }
}
