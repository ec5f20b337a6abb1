using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;
using SpecializedInfer.Oracles;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// The stories110M shape as a Q4_K_M file written by llama.cpp's own quantizer (Q4_K and Q6_K matrices, a Q6_K
/// output), run by the reference engine, which keeps both types in their super-blocks (generated engines keep only
/// Q8_0/Q4_0 layers quantized: a file mixing types has no single weight type for its manifest), on 1 and 2 threads
/// beside llama.cpp as it ships: the same decode and prefill as <see cref="QuantizedDecodeBenchmarks"/>.
/// </summary>
[Config(typeof(TokensPerSecondConfig))]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class KQuantDecodeBenchmarks
{
    private int[] _decode = [];
    private int[] _prompt = [];
    private ILanguageModel? _engine;
    private IInferenceSession? _session;
    private LlamaCppOracle? _llamaCpp;

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        var path = PathOf();
        _engine = ReferenceEngine.Load(path);
        _session = _engine.CreateSession(new SessionOptions { ContextLength = QuantizedDecodeBenchmarks.PromptTokens + 1, Threads = Threads });
        Console.WriteLine($"// q4_k_m, reference engine: {ResidentMemory.Describe(path)} after load");
        _prompt = BenchmarkModels.GreedySequence(_session, 1, QuantizedDecodeBenchmarks.PromptTokens);
        Console.WriteLine($"// q4_k_m, reference engine: {ResidentMemory.Describe(path)} after {QuantizedDecodeBenchmarks.PromptTokens} tokens");
        _llamaCpp = LlamaCppOracle.AsShipped(path, contextSize: QuantizedDecodeBenchmarks.PromptTokens + 1, threads: Threads);
        if (_llamaCpp.BosToken != 1) throw new InvalidOperationException($"llama.cpp's BOS is {_llamaCpp.BosToken}, not 1.");
        _decode = _prompt[..QuantizedDecodeBenchmarks.DecodeTokens];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = QuantizedDecodeBenchmarks.DecodeTokens, Description = "decode, reference engine")]
    public void Decode()
    {
        _session!.Rewind(0);
        foreach (var t in _decode) _session.Forward(t);
    }

    [Benchmark(OperationsPerInvoke = QuantizedDecodeBenchmarks.DecodeTokens, Description = "decode, llama.cpp")]
    public void DecodeLlamaCpp() => _llamaCpp!.EvaluateOneByOne(_decode);

    [Benchmark(OperationsPerInvoke = QuantizedDecodeBenchmarks.PromptTokens, Description = "128-token prefill, reference engine")]
    public float Prefill()
    {
        _session!.Rewind(0);
        return _session.Forward(_prompt)[0];
    }

    [Benchmark(OperationsPerInvoke = QuantizedDecodeBenchmarks.PromptTokens, Description = "128-token prefill, llama.cpp")]
    public void PrefillLlamaCpp() => _llamaCpp!.EvaluatePrompt(_prompt);

    /// <summary>The stories110M-shape Q4_K_M file, quantized once by llama.cpp into the cache folder.</summary>
    public static string PathOf()
    {
        var f32 = BenchmarkModels.PathOf("stories110M");
        var path = Path.ChangeExtension(f32, ".q4_k_m.gguf");
        if (!File.Exists(path))
        {
            LlamaCppOracle.Quantize(f32, path + ".partial", "q4_k_m");
            File.Move(path + ".partial", path, overwrite: true);
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
