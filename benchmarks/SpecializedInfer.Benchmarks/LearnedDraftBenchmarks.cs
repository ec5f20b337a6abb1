using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Gguf;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// Lossless self-speculation with learned exit heads drafting, in generated engines on stories260K: greedy generation
/// of <see cref="Tokens"/> tokens by the full model's engine (the baseline), by the repository's lossless plan (the
/// model's own head after 4 steps) and by plans drafting through the head <c>si learn-exits</c> fitted after 1, 2 or
/// 3 steps (<see cref="ExitHeadModels"/>). Every variant's text is checked equal to the full model's at setup, and
/// its acceptance is printed there (look for "acceptance" in the log).
/// </summary>
[Config(typeof(TokensPerSecondConfig))]
[SimpleJob(warmupCount: 2, iterationCount: 15)]
public class LearnedDraftBenchmarks
{
    public const int Tokens = 128;

    private int[] _prompt = [];
    private readonly Sampler _greedy = new(new SamplingOptions { Temperature = 0 }, 512);
    private ILanguageModel? _full;
    private ILanguageModel? _engine;
    private IInferenceSession? _session;

    [Params("full depth", "model head, 4 steps", "learned head, 2 steps", "learned head, 3 steps", "learned head, 4 steps")]
    public string Plan { get; set; } = "full depth";

    [GlobalSetup]
    public void Setup()
    {
        var path = ExitHeadModels.Stories260KWithHeads();
        var full = _full = Stories260KFull.Load(path);
        _engine = Plan switch
        {
            "model head, 4 steps" => Stories260KLossless.Load(path),
            "learned head, 2 steps" => Stories260KLearnedDraft2.Load(path),
            "learned head, 3 steps" => Stories260KLearnedDraft3.Load(path),
            "learned head, 4 steps" => Stories260KLearnedDraft4.Load(path),
            _ => full,
        };
        using (var file = GgufFile.Open(path)) _prompt = LlamaTokenizer.FromGguf(file).Encode("Once upon a time, there was a little frog named Pip.", addBos: true);
        var options = BenchmarkModels.OneThread(_prompt.Length + Tokens);
        using (var reference = full.CreateSession(options))
        {
            _session = _engine.CreateSession(options);
            if (!Generate(_session).SequenceEqual(Generate(reference)))
                throw new InvalidOperationException($"{Plan}: output differs from full-depth greedy decoding.");
        }
        var s = _session.Statistics;
        Console.WriteLine($"// acceptance {Plan}: {s.AcceptedDrafts} of {s.DraftedTokens} drafts ({s.AcceptanceRate:P1}), " +
                          $"{s.VerificationPasses} verification passes for {Tokens - 1} decoded tokens");
    }

    [Benchmark(OperationsPerInvoke = Tokens)]
    public int Generate() => Generate(_session!).Length;

    private int[] Generate(IInferenceSession session) => BenchmarkModels.GenerateGreedy(session, _greedy, _prompt, Tokens);

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        if (_engine != _full) (_engine as IDisposable)?.Dispose();
        (_full as IDisposable)?.Dispose();
    }
}
