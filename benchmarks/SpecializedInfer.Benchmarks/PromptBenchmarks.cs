using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;
using SpecializedInfer.Oracles;
using static SpecializedInfer.Benchmarks.BenchmarkModels;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// Prompt evaluation, one thread: a 64-token prompt from an empty cache to the logits after its last token, reported
/// per prompt token. The engines batch prompt positions (generated and reference: chunks of 16; llama.cpp: its batch
/// size), so each weight row is read once per chunk instead of once per token.
/// </summary>
[Config(typeof(TokensPerSecondConfig))]
[SimpleJob(warmupCount: 3, iterationCount: 15)]
public class PromptBenchmarks
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
        _referenceSession = _reference.CreateSession(OneThread(Tokens + 1));
        _generated = BenchmarkModels.GeneratedFull(Model, path);
        _generatedSession = _generated.CreateSession(OneThread(Tokens + 1));
        _llamaCpp = new LlamaCppOracle(path, contextSize: Tokens + 1);

        _tokens = BenchmarkModels.GreedySequence(_referenceSession, _llamaCpp.BosToken, Tokens);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Tokens, Description = "reference engine")]
    public float Reference() => Prompt(_referenceSession!);

    [Benchmark(OperationsPerInvoke = Tokens, Description = "generated engine")]
    public float Generated() => Prompt(_generatedSession!);

    /// <summary>The prompt in llama.cpp batches, logits for the last position only, and their argmax.</summary>
    [Benchmark(OperationsPerInvoke = Tokens, Description = "llama.cpp (LLamaSharp)")]
    public int LlamaCpp() => _llamaCpp!.GreedyContinuation(_tokens, 1)[0];

    private float Prompt(IInferenceSession session)
    {
        session.Rewind(0);
        return session.Forward(_tokens)[0];
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
