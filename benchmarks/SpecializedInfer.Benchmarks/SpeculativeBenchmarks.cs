using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;
using static SpecializedInfer.Benchmarks.BenchmarkModels;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// Greedy generation of <see cref="Tokens"/> tokens on stories260K with the reference engine: one full-depth
/// Forward(int) per token, against lossless self-speculative decoding (models/stories260K.lossless.plan.json and a
/// few other draft sizes). The output is the same token for token, so time per generated token is the comparison.
/// Acceptance rates are printed at setup (look for "acceptance" in the log).
/// </summary>
[Config(typeof(TokensPerSecondConfig))]
[SimpleJob(warmupCount: 2, iterationCount: 10)]
public class SpeculativeBenchmarks
{
    public const int Tokens = 128;

    private static readonly (string Name, string? Json)[] Variants =
    [
        ("plan", null),
        ("2 steps, 4 tokens", """{ "draftSteps": 2, "draftTokens": 4 }"""),
        ("4 steps, 2 tokens", """{ "draftSteps": 4, "draftTokens": 2 }"""),
        ("4 steps, 6 tokens, exit 0.5", """{ "draftSteps": 4, "draftTokens": 6 }, "exits": [ { "afterStep": 3, "criterion": "maxProbability", "threshold": 0.5 } ]"""),
    ];

    private int[] _prompt = [];
    private int[] _expected = [];
    private ReferenceEngine? _full;
    private IInferenceSession? _fullSession;
    private readonly ReferenceEngine?[] _lossless = new ReferenceEngine?[Variants.Length];
    private readonly IInferenceSession?[] _sessions = new IInferenceSession?[Variants.Length];
    private readonly Sampler _greedy = new(new SamplingOptions { Temperature = 0 }, 512);

    [GlobalSetup]
    public void Setup()
    {
        var model = BenchmarkModels.PathOf("stories260K");
        var models = BenchmarkModels.RepositoryModels();
        _full = ReferenceEngine.Load(model);
        var tokenizer = LlamaTokenizer.FromGguf(_full.Weights.File);
        _prompt = tokenizer.Encode("Once upon a time, there was a little frog named Pip.", addBos: true);
        _fullSession = _full.CreateSession(OneThread(_prompt.Length + Tokens));
        _expected = Generate(_fullSession);

        var dir = Directory.CreateTempSubdirectory("si-bench-spec-").FullName;
        File.Copy(Path.Combine(models, "stories260K.model.json"), Path.Combine(dir, "stories260K.model.json"));
        for (var i = 0; i < Variants.Length; i++)
        {
            var plan = Path.Combine(models, "stories260K.lossless.plan.json");
            if (Variants[i].Json is { } json)
            {
                plan = Path.Combine(dir, $"v{i}.plan.json");
                File.WriteAllText(plan, $$"""{ "manifest": "stories260K.model.json", "kvFill": "lossless", "speculation": {{json}} }""");
            }
            _lossless[i] = ReferenceEngine.Load(model, plan);
            _sessions[i] = _lossless[i]!.CreateSession(OneThread(_prompt.Length + Tokens));
            var tokens = Generate(_sessions[i]!);
            if (!tokens.SequenceEqual(_expected)) throw new InvalidOperationException($"{Variants[i].Name}: output differs from full-depth greedy decoding.");
            var s = _sessions[i]!.Statistics;
            Console.WriteLine($"// acceptance {Variants[i].Name} ({_lossless[i]!.Schedule.Describe()}): {s.AcceptedDrafts} of {s.DraftedTokens} drafts " +
                              $"({s.AcceptanceRate:P1}), {s.VerificationPasses} verification passes for {Tokens - 1} decoded tokens");
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Tokens, Description = "full depth, Forward(int) per token")]
    public int FullDepth() => Generate(_fullSession!).Length;

    [Benchmark(OperationsPerInvoke = Tokens, Description = "self-speculative, stories260K.lossless.plan.json")]
    public int SpeculativePlan() => Generate(_sessions[0]!).Length;

    [Benchmark(OperationsPerInvoke = Tokens, Description = "self-speculative, 2 steps, 4 tokens")]
    public int Speculative2x4() => Generate(_sessions[1]!).Length;

    [Benchmark(OperationsPerInvoke = Tokens, Description = "self-speculative, 4 steps, 2 tokens")]
    public int Speculative4x2() => Generate(_sessions[2]!).Length;

    [Benchmark(OperationsPerInvoke = Tokens, Description = "self-speculative, 4 steps, 6 tokens, exit p ≥ 0.5")]
    public int Speculative4x6Exit() => Generate(_sessions[3]!).Length;

    private int[] Generate(IInferenceSession session) => BenchmarkModels.GenerateGreedy(session, _greedy, _prompt, Tokens);

    [GlobalCleanup]
    public void Cleanup()
    {
        _fullSession?.Dispose();
        _full?.Dispose();
        foreach (var s in _sessions) s?.Dispose();
        foreach (var e in _lossless) e?.Dispose();
    }
}
