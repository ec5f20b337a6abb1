using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Oracles;
using SpecializedInfer.Quantization;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// The reference engine's batch-1 decode on the stories110M shape in F32 and in the Q8_0 and Q4_0 files
/// <c>si quantize</c> writes from it (llama.cpp's bytes), one thread, beside llama.cpp on the same quantized file:
/// what keeping weights in their blocks (a quarter of F32's bytes for Q8_0) and integer dot products cost or save.
/// </summary>
[Config(typeof(TokensPerSecondConfig))]
[SimpleJob(warmupCount: 2, iterationCount: 10)]
public class QuantizedDecodeBenchmarks
{
    public const int Tokens = 32;

    private int[] _tokens = [];
    private ReferenceEngine? _engine;
    private IInferenceSession? _session;
    private LlamaCppOracle? _llamaCpp;

    [Params("f32", "q8_0", "q4_0")]
    public string Type { get; set; } = "f32";

    [GlobalSetup]
    public void Setup()
    {
        var path = PathOf(Type);
        _engine = ReferenceEngine.Load(path);
        _session = _engine.CreateSession(Tokens);
        _llamaCpp = new LlamaCppOracle(path, contextSize: Tokens);
        _tokens = BenchmarkModels.GreedySequence(_session, _llamaCpp.BosToken, Tokens);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Tokens, Description = "reference engine")]
    public void Reference()
    {
        _session!.Rewind(0);
        foreach (var t in _tokens) _session.Forward(t);
    }

    [Benchmark(OperationsPerInvoke = Tokens, Description = "llama.cpp (LLamaSharp)")]
    public void LlamaCpp() => _llamaCpp!.EvaluateOneByOne(_tokens);

    /// <summary>The stories110M-shape file of <paramref name="type"/>, quantized once into the cache folder.</summary>
    private static string PathOf(string type)
    {
        var f32 = BenchmarkModels.PathOf("stories110M");
        if (type == "f32") return f32;
        var path = Path.ChangeExtension(f32, $".{type}.gguf");
        if (!File.Exists(path))
        {
            ModelQuantizer.TryParse(type, out var fileType);
            using var input = GgufFile.Open(f32);
            ModelQuantizer.Quantize(input, fileType, path);
        }
        return path;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _engine?.Dispose();
        _llamaCpp?.Dispose();
    }
}
