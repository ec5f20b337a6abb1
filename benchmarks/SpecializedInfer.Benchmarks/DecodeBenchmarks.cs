using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;
using SpecializedInfer.Oracles;
using static SpecializedInfer.Benchmarks.BenchmarkModels;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// Batch-1 decoding, one thread: the time to evaluate one token (forward pass plus full-vocabulary logits) at
/// positions 0..63, for each engine on the same model file and the same token sequence.
/// </summary>
[Config(typeof(TokensPerSecondConfig))]
[SimpleJob(warmupCount: 3, iterationCount: 15)]
public class DecodeBenchmarks
{
    public const int Tokens = 64;

    private int[] _tokens = [];
    private ReferenceEngine? _reference;
    private IInferenceSession? _referenceSession;
    private ILanguageModel? _generated;
    private IInferenceSession? _generatedSession;
    private LlamaCppOracle? _llamaCpp;

    [Params("stories260K", "stories15M", "stories110M")]
    public string Model { get; set; } = "stories260K";

    [GlobalSetup]
    public void Setup()
    {
        var path = BenchmarkModels.PathOf(Model);
        _reference = ReferenceEngine.Load(path);
        _referenceSession = _reference.CreateSession(OneThread(Tokens));
        _generated = BenchmarkModels.GeneratedFull(Model, path);
        _generatedSession = _generated.CreateSession(OneThread(Tokens));
        _llamaCpp = new LlamaCppOracle(path, contextSize: Tokens);

        _tokens = BenchmarkModels.GreedySequence(_referenceSession, _llamaCpp.BosToken, Tokens);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Tokens, Description = "reference engine")]
    public void Reference() => DecodeAll(_referenceSession!);

    [Benchmark(OperationsPerInvoke = Tokens, Description = "generated engine")]
    public void Generated() => DecodeAll(_generatedSession!);

    [Benchmark(OperationsPerInvoke = Tokens, Description = "llama.cpp (LLamaSharp)")]
    public void LlamaCpp() => _llamaCpp!.EvaluateOneByOne(_tokens);

    private void DecodeAll(IInferenceSession session)
    {
        session.Rewind(0);
        foreach (var t in _tokens) session.Forward(t);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _referenceSession?.Dispose();
        _reference?.Dispose();
        _generatedSession?.Dispose();
        _generated?.Dispose();
        _llamaCpp?.Dispose();
    }
}
