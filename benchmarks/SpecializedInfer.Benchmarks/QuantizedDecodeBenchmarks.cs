using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Oracles;
using SpecializedInfer.Quantization;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// The generated engine on the stories110M shape in F32 and in the Q8_0 and Q4_0 files <c>si quantize</c> writes
/// from it (llama.cpp's bytes; the Q8_0/Q4_0 engines keep their matrices quantized), on 1 and 2 threads, beside
/// llama.cpp as it ships on the same file and the same threads: batch-1 decode at positions 0..31, and a 128-token
/// prompt from an empty cache to its last logits, both reported per token. Run beside <see cref="MachineBenchmarks"/>
/// (read bandwidth, FMA peak) in the same invocation; the README turns the times into fractions of those.
/// </summary>
[Config(typeof(TokensPerSecondConfig))]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class QuantizedDecodeBenchmarks
{
    public const int DecodeTokens = 32;
    public const int PromptTokens = 128;

    private int[] _decode = [];
    private int[] _prompt = [];
    private ILanguageModel? _engine;
    private IInferenceSession? _session;
    private LlamaCppOracle? _llamaCpp;

    /// <summary>f32, q8_0 and q4_0, or the comma-separated subset in SPECIALIZEDINFER_BENCH_TYPES (a shorter run).</summary>
    [ParamsSource(nameof(Types))]
    public string Type { get; set; } = "f32";

    public static IEnumerable<string> Types => BenchmarkModels.Selected("SPECIALIZEDINFER_BENCH_TYPES", ["f32", "q8_0", "q4_0"]);

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        var path = PathOf(Type);
        _engine = Type switch
        {
            "q8_0" => Stories110MQ8Full.Load(path),
            "q4_0" => Stories110MQ4Full.Load(path),
            _ => Stories110MFull.Load(path),
        };
        _session = _engine.CreateSession(new SessionOptions { ContextLength = PromptTokens + 1, Threads = Threads });
        Console.WriteLine($"// {Type}: {ResidentMemory.Describe(path)} after load");
        _prompt = BenchmarkModels.GreedySequence(_session, 1, PromptTokens); // BOS is 1 in these files (llama.cpp agrees below)
        Console.WriteLine($"// {Type}: {ResidentMemory.Describe(path)} after {PromptTokens} tokens");
        _llamaCpp = LlamaCppOracle.AsShipped(path, contextSize: PromptTokens + 1, threads: Threads);
        if (_llamaCpp.BosToken != 1) throw new InvalidOperationException($"llama.cpp's BOS is {_llamaCpp.BosToken}, not 1.");
        _decode = _prompt[..DecodeTokens];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = DecodeTokens, Description = "decode, generated engine")]
    public void Decode()
    {
        _session!.Rewind(0);
        foreach (var t in _decode) _session.Forward(t);
    }

    [Benchmark(OperationsPerInvoke = DecodeTokens, Description = "decode, llama.cpp")]
    public void DecodeLlamaCpp() => _llamaCpp!.EvaluateOneByOne(_decode);

    [Benchmark(OperationsPerInvoke = PromptTokens, Description = "128-token prefill, generated engine")]
    public float Prefill()
    {
        _session!.Rewind(0);
        return _session.Forward(_prompt)[0];
    }

    [Benchmark(OperationsPerInvoke = PromptTokens, Description = "128-token prefill, llama.cpp")]
    public void PrefillLlamaCpp() => _llamaCpp!.EvaluatePrompt(_prompt);

    /// <summary>The stories110M-shape file of <paramref name="type"/>, quantized once into the cache folder.</summary>
    public static string PathOf(string type)
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
