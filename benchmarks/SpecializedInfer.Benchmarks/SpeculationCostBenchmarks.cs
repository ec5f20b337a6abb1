using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// What lossless self-speculation costs on the stories110M shape (Q8_0, generated engines), in the pieces the
/// break-even acceptance is computed from: a full-depth decode step (the baseline), a draft through the first 3 or 6
/// of 12 layers plus the model's head, and one batched verification pass over 2, 3 and 5 positions (k = 1, 2, 4
/// drafts plus the token verification adds). Drafts and decode steps run at positions 0..31; verification passes
/// start at position 16 after a 16-token prefix. <see cref="BreakEvenConfig"/> prints, beside each verification row,
/// the per-draft acceptance at which speculation pays. The weights are random, so acceptance on this model means
/// nothing: only costs are measured here.
/// </summary>
[Config(typeof(BreakEvenConfig))]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 15)] // the 2-vCPU VM is noisy: more iterations than the other benchmarks
public class SpeculationCostBenchmarks
{
    private const int Positions = 32;
    private const int Prefix = 16;
    private const int Vocab = 32000;

    private int[] _tokens = [];
    private IInferenceSession? _full;
    private ISpeculativeSession? _draft3;
    private ISpeculativeSession? _draft6;
    private ISpeculativeSession? _verifier; // its own session, so the drafts' rewinds leave its 16-token prefix alone
    private float[] _logits = [];

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        var path = QuantizedDecodeBenchmarks.PathOf("q8_0");
        var options = new SessionOptions { ContextLength = Positions + 8, Threads = Threads };
        _full = Stories110MQ8Full.Load(path).CreateSession(options);
        var draft3 = Stories110MQ8Draft3.Load(path);
        _draft3 = (ISpeculativeSession)draft3.CreateSession(options);
        _verifier = (ISpeculativeSession)draft3.CreateSession(options);
        _draft6 = (ISpeculativeSession)Stories110MQ8Draft6.Load(path).CreateSession(options);
        _tokens = BenchmarkModels.GreedySequence(_full, bos: 1, Positions);
        _logits = new float[5 * Vocab];
        _verifier.Forward(_tokens.AsSpan(0, Prefix));
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Positions, Description = "decode step, 12 layers")]
    public void Decode()
    {
        _full!.Rewind(0);
        foreach (var t in _tokens) _full.Forward(t);
    }

    [Benchmark(OperationsPerInvoke = Positions, Description = "draft, 3 layers + head")]
    public bool Draft3() => Drafts(_draft3!);

    [Benchmark(OperationsPerInvoke = Positions, Description = "draft, 6 layers + head")]
    public bool Draft6() => Drafts(_draft6!);

    [Benchmark(Description = "verification pass, 2 positions")]
    public void Verify2() => _verifier!.Verify(Prefix, _tokens.AsSpan(Prefix, 2), _logits.AsSpan(0, 2 * Vocab));

    [Benchmark(Description = "verification pass, 3 positions")]
    public void Verify3() => _verifier!.Verify(Prefix, _tokens.AsSpan(Prefix, 3), _logits.AsSpan(0, 3 * Vocab));

    [Benchmark(Description = "verification pass, 5 positions")]
    public void Verify5() => _verifier!.Verify(Prefix, _tokens.AsSpan(Prefix, 5), _logits.AsSpan(0, 5 * Vocab));

    private bool Drafts(ISpeculativeSession session)
    {
        session.Rewind(0);
        var confident = false;
        foreach (var t in _tokens) session.Draft(t, out confident);
        return confident;
    }
}
