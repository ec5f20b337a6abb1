using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;
using SpecializedInfer.Oracles;
using static SpecializedInfer.Benchmarks.BenchmarkModels;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// One stories model on three engines, one thread each: the reference engine, the full model's generated engine and
/// llama.cpp (LLamaSharp) on the same file, fed the same <see cref="Tokens"/>-token sequence (the reference engine's
/// greedy continuation of BOS). A subclass says what is timed per token (decode, prompt) and how long a context that
/// needs (<see cref="ContextLength"/>).
/// </summary>
[Config(typeof(TokensPerSecondConfig))]
[SimpleJob(warmupCount: 3, iterationCount: 15)]
public abstract class ThreeEngineBenchmarks
{
    public const int Tokens = 64;

    private ReferenceEngine? _reference;
    private ILanguageModel? _generated;

    [Params("stories260K", "stories15M", "stories110M")]
    public string Model { get; set; } = "stories260K";

    /// <summary>Positions each engine's context holds.</summary>
    protected abstract int ContextLength { get; }

    /// <summary>The token sequence every engine is fed.</summary>
    protected int[] Sequence { get; private set; } = [];

    protected IInferenceSession ReferenceSession { get; private set; } = null!;
    protected IInferenceSession GeneratedSession { get; private set; } = null!;
    protected LlamaCppOracle LlamaCppModel { get; private set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        var path = PathOf(Model);
        _reference = ReferenceEngine.Load(path);
        ReferenceSession = _reference.CreateSession(OneThread(ContextLength));
        _generated = GeneratedFull(Model, path);
        GeneratedSession = _generated.CreateSession(OneThread(ContextLength));
        LlamaCppModel = new LlamaCppOracle(path, contextSize: ContextLength);

        Sequence = GreedySequence(ReferenceSession, LlamaCppModel.BosToken, Tokens);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        ReferenceSession?.Dispose();
        _reference?.Dispose();
        GeneratedSession?.Dispose();
        _generated?.Dispose();
        LlamaCppModel?.Dispose();
    }
}
