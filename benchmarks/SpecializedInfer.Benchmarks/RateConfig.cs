namespace SpecializedInfer.Benchmarks;

/// <summary>Adds a rate column (1 / mean time per operation in ns: G operations per second) for benchmarks whose operation is a byte or a flop.</summary>
public sealed class RateConfig() : RateColumnConfig("Rate", "G/s", "Operations (bytes read, or flops) per nanosecond: GB/s or GFLOP/s", perNanosecond: 1, "N2");
