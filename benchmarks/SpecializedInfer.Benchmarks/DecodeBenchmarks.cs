using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;
using SpecializedInfer.Oracles;
using SpecializedInfer.Sampling;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// Batch-1 decoding, one thread: the time to evaluate one token (forward pass plus full-vocabulary logits) at
/// positions 0..63, for each engine on the same model and the same token sequence.
/// </summary>
[Config(typeof(TokensPerSecondConfig))]
public class DecodeBenchmarks
{
    public const int Tokens = 64;

    private int[] _tokens = [];
    private ReferenceEngine? _reference;
    private IInferenceSession? _session;
    private LlamaCppOracle? _llamaCpp;

    [Params("stories260K", "stories110M")]
    public string Model { get; set; } = "stories260K";

    [GlobalSetup]
    public void Setup()
    {
        var path = BenchmarkModels.PathOf(Model);
        _reference = ReferenceEngine.Load(path);
        _session = _reference.CreateSession(Tokens);
        _llamaCpp = new LlamaCppOracle(path, contextSize: Tokens);

        // The sequence: BOS, then the engine's own greedy continuation, so attention sees a realistic sequence.
        _tokens = new int[Tokens];
        _tokens[0] = _llamaCpp.BosToken;
        for (var i = 1; i < Tokens; i++) _tokens[i] = Sampler.ArgMax(_session.Forward(_tokens[i - 1]));
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Tokens, Description = "reference engine")]
    public void Reference()
    {
        _session!.Rewind(0);
        foreach (var t in _tokens) _session.Forward(t);
    }

    [Benchmark(OperationsPerInvoke = Tokens, Description = "llama.cpp (LLamaSharp)")]
    public void LlamaCpp() => _llamaCpp!.EvaluateOneByOne(_tokens);

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _reference?.Dispose();
        _llamaCpp?.Dispose();
    }
}
