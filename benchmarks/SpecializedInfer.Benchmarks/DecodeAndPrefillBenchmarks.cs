using System.Globalization;
using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Oracles;
using SpecializedInfer.Quantization;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// An engine on one model shape in the weight types a subclass names (for generated engines, F32 and the Q8_0 and Q4_0
/// files <c>si quantize</c> writes from it: llama.cpp's bytes; the Q8_0/Q4_0 engines keep their matrices quantized),
/// on 1 and 2 threads, beside llama.cpp as it ships on the same file and the same threads: batch-1 decode at positions
/// 0..31, and a 128-token prompt from an empty cache to its last logits, both reported per token. A subclass says only
/// what differs: the shape, its types, which engine loads a file (<see cref="Load"/>, named by <see cref="EngineName"/>
/// in the output) and, when not <c>si quantize</c>'s, where a type's file comes from (<see cref="ModelPath"/>). Run
/// beside <see cref="MachineBenchmarks"/> (read bandwidth, FMA peak) in the same invocation; the README turns the
/// times into fractions of those.
/// </summary>
[Config(typeof(TokensPerSecondConfig))]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
public abstract class DecodeAndPrefillBenchmarks
{
    public const int DecodeTokens = 32;
    public const int PromptTokens = 128;

    private int[] _decode = [];
    private int[] _prompt = [];
    private ILanguageModel? _engine;
    private IInferenceSession? _session;
    private LlamaCppOracle? _llamaCpp;
    private ReadProbe? _probe;
    private WorkerPool? _probePool;

    /// <summary>The weight type (f32, q8_0, q4_0) of this case.</summary>
    [ParamsSource(nameof(Types))]
    public string Type { get; set; } = "q8_0";

    /// <summary>The types this shape runs, or the comma-separated subset of them in SPECIALIZEDINFER_BENCH_TYPES.</summary>
    public IEnumerable<string> Types => BenchmarkModels.Selected("SPECIALIZEDINFER_BENCH_TYPES", ShapeTypes);

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    /// <summary>The synthetic model preset (<c>SyntheticModelSpec.Presets</c>) whose files are measured.</summary>
    protected abstract string Shape { get; }

    /// <summary>The weight types this shape is measured in, each with a generated engine.</summary>
    protected abstract string[] ShapeTypes { get; }

    /// <summary>The engine measured for <paramref name="type"/>, loading <paramref name="path"/>: the shape's generated engine unless a subclass says otherwise.</summary>
    protected abstract ILanguageModel Load(string type, string path);

    /// <summary>Which engine <see cref="Load"/> returns, as the setup's lines name it.</summary>
    protected virtual string EngineName => "generated engine";

    /// <summary>
    /// Whether the process that measures <see cref="Decode"/> also runs the read probe on the case's threads, three
    /// passes before the decode's iterations and three after, and prints the readings, so the decode's read rate can be
    /// set against the bandwidth of the same process and minutes (this VM's moves by a third within an hour). Off where
    /// part of the model stays in cache between tokens (its decode is not a read rate).
    /// </summary>
    protected virtual bool ProbesAroundDecode => false;

    /// <summary>The file of <paramref name="type"/>: <see cref="PathOf(string, string)"/> unless the type is written another way.</summary>
    protected virtual string ModelPath(string type) => PathOf(Shape, type);

    [GlobalSetup]
    public void Setup()
    {
        var path = ModelPath(Type);
        _engine = Load(Type, path);
        _session = _engine.CreateSession(new SessionOptions { ContextLength = PromptTokens + 1, Threads = Threads });
        Console.WriteLine($"// {Shape} {Type}, {EngineName}: {ResidentMemory.Describe(path)} after load");
        _prompt = BenchmarkModels.GreedySequence(_session, 1, PromptTokens); // BOS is 1 in these files (llama.cpp agrees below)
        Console.WriteLine($"// {Shape} {Type}, {EngineName}: {ResidentMemory.Describe(path)} after {PromptTokens} tokens");
        _llamaCpp = LlamaCppOracle.AsShipped(path, contextSize: PromptTokens + 1, threads: Threads);
        if (_llamaCpp.BosToken != 1) throw new InvalidOperationException($"llama.cpp's BOS is {_llamaCpp.BosToken}, not 1.");
        _decode = _prompt[..DecodeTokens];
    }

    /// <summary>The setup, then the read probe's passes before the iterations (<see cref="ProbesAroundDecode"/>).</summary>
    [GlobalSetup(Target = nameof(Decode))]
    public void SetupDecode()
    {
        Setup();
        if (!ProbesAroundDecode) return;
        _probe = new ReadProbe(Threads);
        _probePool = new WorkerPool(Threads);
        Probe("before the decode's iterations");
    }

    /// <summary>The read probe's passes after the iterations, then the cleanup.</summary>
    [GlobalCleanup(Target = nameof(Decode))]
    public void CleanupDecode()
    {
        if (_probe is not null) Probe("after them");
        _probePool?.Dispose();
        Cleanup();
    }

    private void Probe(string when)
    {
        var readings = Enumerable.Range(0, 3).Select(_ => _probe!.GigabytesPerSecond(_probePool!).ToString("F1", CultureInfo.InvariantCulture));
        Console.WriteLine($"// {Shape} {Type}, {Threads} thread(s), read probe in the decode's process {when}: {string.Join(", ", readings)} GB/s");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = DecodeTokens, Description = "decode, SpecializedInfer")]
    public void Decode()
    {
        _session!.Rewind(0);
        foreach (var t in _decode) _session.Forward(t);
    }

    [Benchmark(OperationsPerInvoke = DecodeTokens, Description = "decode, llama.cpp")]
    public void DecodeLlamaCpp() => _llamaCpp!.EvaluateOneByOne(_decode);

    [Benchmark(OperationsPerInvoke = PromptTokens, Description = "128-token prefill, SpecializedInfer")]
    public float Prefill()
    {
        _session!.Rewind(0);
        return _session.Forward(_prompt)[0];
    }

    [Benchmark(OperationsPerInvoke = PromptTokens, Description = "128-token prefill, llama.cpp")]
    public void PrefillLlamaCpp() => _llamaCpp!.EvaluatePrompt(_prompt);

    /// <summary>The <paramref name="shape"/> file of <paramref name="type"/>: the synthetic F32 model, quantized once into the cache folder.</summary>
    public static string PathOf(string shape, string type)
    {
        var f32 = BenchmarkModels.PathOf(shape);
        if (type == "f32") return f32;
        var path = Path.ChangeExtension(f32, $".{type}.gguf");
        if (!File.Exists(path))
        {
            ModelQuantizer.TryParse(type, out var fileType);
            var partial = path + ".partial";
            using (var input = GgufFile.Open(f32)) ModelQuantizer.Quantize(input, fileType, partial);
            File.Move(partial, path, overwrite: true);
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
