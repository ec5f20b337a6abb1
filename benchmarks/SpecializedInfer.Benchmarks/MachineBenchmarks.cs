using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// What this machine can do, measured in the same run as <see cref="QuantizedDecodeBenchmarks"/> so the engines'
/// figures can be read as fractions of it: read bandwidth (a vectorized sum over 1 GiB, far past every cache) and the
/// fp32 FMA peak (16 independent vector FMA chains per thread, in registers), on 1 and 2 threads split by the engines'
/// own <see cref="WorkerPool"/>. Reported per byte and per flop, so the rate column reads GB/s and GFLOP/s.
/// </summary>
[Config(typeof(RateConfig))]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class MachineBenchmarks
{
    public const int Bytes = ReadProbe.Bytes;
    public const int Flops = 1 << 30;

    private WorkerPool? _pool;
    private ReadProbe? _read;
    private FmaWork? _fma;

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        _pool = new WorkerPool(Threads);
        _read = new ReadProbe(Threads);
        _fma = new FmaWork(Threads);
    }

    [Benchmark(OperationsPerInvoke = Bytes, Description = "read bandwidth (per byte: GB/s)")]
    public float Read()
    {
        _pool!.Run(_read!);
        return _read!.Total;
    }

    [Benchmark(OperationsPerInvoke = Flops, Description = "fp32 FMA peak (per flop: GFLOP/s)")]
    public float Fma()
    {
        _pool!.Run(_fma!);
        return _fma!.Total;
    }

    [GlobalCleanup]
    public void Cleanup() => _pool?.Dispose();

    /// <summary>Each thread runs 16 independent FMA chains (a ← a·m + c) of the widest vectors for its share of the flops.</summary>
    private sealed class FmaWork(int parts) : IPartitionedWork
    {
        private readonly float[] _partial = new float[parts * 16];

        public float Total => _partial.Sum();

        public void Run(int part, int parts)
        {
            // 16 chains × 16 lanes × 2 flops per iteration.
            var iterations = Flops / (parts * 16 * 16 * 2);
            var m = Vector512.Create(0.999999f);
            var c = Vector512.Create(1e-6f);
            var (a0, a1, a2, a3, a4, a5, a6, a7) = (Vector512.Create(1f), Vector512.Create(2f), Vector512.Create(3f), Vector512.Create(4f),
                Vector512.Create(5f), Vector512.Create(6f), Vector512.Create(7f), Vector512.Create(8f));
            var (b0, b1, b2, b3, b4, b5, b6, b7) = (a0, a1, a2, a3, a4, a5, a6, a7);
            for (var i = 0; i < iterations; i++)
            {
                a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c);
                a2 = Vector512.FusedMultiplyAdd(a2, m, c); a3 = Vector512.FusedMultiplyAdd(a3, m, c);
                a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
                a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c);
                b0 = Vector512.FusedMultiplyAdd(b0, m, c); b1 = Vector512.FusedMultiplyAdd(b1, m, c);
                b2 = Vector512.FusedMultiplyAdd(b2, m, c); b3 = Vector512.FusedMultiplyAdd(b3, m, c);
                b4 = Vector512.FusedMultiplyAdd(b4, m, c); b5 = Vector512.FusedMultiplyAdd(b5, m, c);
                b6 = Vector512.FusedMultiplyAdd(b6, m, c); b7 = Vector512.FusedMultiplyAdd(b7, m, c);
            }
            var sum = (a0 + a1) + (a2 + a3) + (a4 + a5) + (a6 + a7) + (b0 + b1) + (b2 + b3) + (b4 + b5) + (b6 + b7);
            _partial[part * 16] = Vector512.Sum(sum);
        }
    }
}
