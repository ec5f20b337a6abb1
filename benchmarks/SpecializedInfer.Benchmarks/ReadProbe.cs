using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// The read-bandwidth probe: a vectorized sum over <see cref="Bytes"/> (far past every cache), each of a
/// <see cref="WorkerPool"/>'s threads summing its contiguous share with the widest vectors, four accumulators deep.
/// <see cref="MachineBenchmarks"/> times it in a process of its own; <see cref="DecodeAndPrefillBenchmarks"/> also runs it
/// in a decode's process just before and after the decode's iterations (<see cref="GigabytesPerSecond"/>), so the decode's
/// read rate can be set against the probe's of the same process and minutes (this VM's bandwidth moves by a third
/// within an hour).
/// </summary>
public sealed class ReadProbe : IPartitionedWork
{
    public const int Bytes = 1 << 30;

    // On a cache line: an array's data starts 16 bytes into one (56 mod 64 seen), and then every 64-byte load touches
    // two lines, which read 16.6 GB/s where the same loop over aligned data read 23 (Zen 5, one thread).
    private readonly AlignedBuffer _buffer = new(Bytes / sizeof(float));
    private readonly float[] _partial;

    /// <summary>A probe for up to <paramref name="parts"/> threads; every page of its buffer is mapped before the first read.</summary>
    public ReadProbe(int parts)
    {
        _partial = new float[parts * 16]; // a cache line per part
        _buffer.Span.Fill(1f);
    }

    /// <summary>The sum of the last run's parts (returned by benchmarks so the reads cannot be dropped).</summary>
    public float Total => _partial.Sum();

    /// <summary>One pass over the buffer on <paramref name="pool"/>'s threads, in GB/s.</summary>
    public double GigabytesPerSecond(WorkerPool pool)
    {
        var start = Stopwatch.GetTimestamp();
        pool.Run(this);
        return Bytes / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // its first pass is a reading too, not tier-0 code's
    public void Run(int part, int parts)
    {
        int from = WorkerPool.Start(_buffer.Length, part, parts), to = WorkerPool.Start(_buffer.Length, part + 1, parts);
        ref var r = ref _buffer.Start;
        var (a, b, c, d) = (Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero, Vector512<float>.Zero);
        var i = from;
        for (; i + 64 <= to; i += 64)
        {
            a += Vector512.LoadUnsafe(ref r, (nuint)i);
            b += Vector512.LoadUnsafe(ref r, (nuint)i + 16);
            c += Vector512.LoadUnsafe(ref r, (nuint)i + 32);
            d += Vector512.LoadUnsafe(ref r, (nuint)i + 48);
        }
        var sum = Vector512.Sum(a + b + (c + d));
        for (; i < to; i++) sum += Unsafe.Add(ref r, i);
        _partial[part * 16] = sum;
    }
}
