using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// The stories110M shape's F32 prompt products alone (<see cref="PromptGemm"/>, which <see cref="Stories110MFull"/>
/// runs at prefill): one 64-position chunk per matrix, its input transposed and multiplied, one thread, over copies of
/// the matrix (57 MB in all, past the caches) so that each is read from memory as in a prompt. Reported per flop, so
/// the rate column reads GFLOP/s beside the FMA probe of <see cref="MachineBenchmarks"/>: how far the GEMM is from the
/// peak, without the rest of a layer. (Until the prompt GEMM this measured the generated dot-product MatMat kernels,
/// which only lossless plans' Verify runs now; docs/performance-notes.md has their figures.)
/// </summary>
[Config(typeof(RateConfig))]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 5)]
public class BatchedProductBenchmarks
{
    private const int Positions = 64;

    /// <summary>Weights of all copies: 24 of 768 × 768, or 9 of 2048 × 768 (57 MB).</summary>
    private const int CopiedWeights = 24 * 768 * 768;

    /// <summary>The flops of one invocation (2 per multiply-add), the same for every shape.</summary>
    public const int Flops = 2 * CopiedWeights * Positions;

    private float[][] _w = [];
    private float[] _x = [];
    private float[] _y = [];
    private float[] _xT = [];

    /// <summary>The product: q/k/v/o (768 × 768), gate/up (2048 × 768) or down (768 × 2048, with the residual add).</summary>
    [Params("768x768", "2048x768", "768x2048")]
    public string Shape { get; set; } = "768x768";

    private (int Rows, int Cols) Size => Shape switch
    {
        "2048x768" => (2048, 768),
        "768x2048" => (768, 2048),
        _ => (768, 768),
    };

    [GlobalSetup]
    public void Setup()
    {
        var (rows, cols) = Size;
        var random = new Random(11);
        var copies = CopiedWeights / (rows * cols);
        _w = new float[copies][];
        for (var i = 0; i < copies; i++)
        {
            _w[i] = new float[rows * cols];
            for (var j = 0; j < _w[i].Length; j++) _w[i][j] = (float)(random.NextDouble() - 0.5);
        }
        _x = new float[Positions * cols];
        for (var j = 0; j < _x.Length; j++) _x[j] = (float)(random.NextDouble() - 0.5);
        _y = new float[Positions * rows];
        _xT = new float[Positions * cols];
    }

    [Benchmark(OperationsPerInvoke = Flops, Description = "64-position F32 prompt GEMM, 1 thread (per flop: GFLOP/s)")]
    public float Gemm()
    {
        var (rows, cols) = Size;
        var add = Shape == "768x2048";
        foreach (var w in _w)
        {
            PromptGemm.Transpose(_x, Positions, cols, _xT);
            PromptGemm.Multiply(w, cols, cols, _xT, Positions, _y, rows, 0, rows, add);
        }
        return _y[cols % _y.Length];
    }
}
