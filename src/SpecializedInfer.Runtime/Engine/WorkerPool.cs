namespace SpecializedInfer.Engine;

/// <summary>Work split into parts that a <see cref="WorkerPool"/> runs at once, part p of n on one thread each.</summary>
public interface IPartitionedWork
{
    /// <summary>Runs part <paramref name="part"/> of <paramref name="parts"/> (which thread runs which part is fixed: part 0 is the caller's).</summary>
    void Run(int part, int parts);
}

/// <summary>
/// A session's threads: the caller and <see cref="Threads"/> − 1 workers that live as long as the pool, as
/// llama.cpp's thread pool does. <see cref="Run"/> publishes the work by bumping a generation counter, runs part 0
/// itself and spins until every worker has finished its part: no allocation, no task, no lock per call. Workers
/// spin on the counter between calls (a token's calls follow each other within microseconds) and, after
/// <see cref="SpinIterations"/> idle spins, sleep on a monitor that <see cref="Run"/> pulses only when someone sleeps.
/// Which thread computes which part is fixed, and each part's arithmetic is the caller's to define, so a partition
/// that gives every output to one part gives the same bits for any number of threads.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    /// <summary>Idle spins before a worker sleeps (about a millisecond).</summary>
    public const int SpinIterations = 20_000;

    private readonly Thread[] _workers;
    private readonly object _sleep = new();
    private IPartitionedWork? _work;
    private int _generation;
    private int _pending;
    private int _sleepers;
    private Exception? _failure;
    private volatile bool _disposed;

    /// <summary>A pool of <paramref name="threads"/> threads in all (the caller counts as one): 1 runs everything on the caller.</summary>
    public WorkerPool(int threads)
    {
        if (threads < 1 || threads > MaxThreads)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, $"A session runs on 1 to {MaxThreads} threads.");
        Threads = threads;
        _workers = new Thread[threads - 1];
        for (var i = 0; i < _workers.Length; i++)
        {
            var part = i + 1;
            _workers[i] = new Thread(() => WorkerLoop(part)) { IsBackground = true, Name = $"SpecializedInfer worker {part}" };
            _workers[i].Start();
        }
    }

    /// <summary>The most threads a pool takes.</summary>
    public const int MaxThreads = 256;

    /// <summary>Threads in all, the caller included.</summary>
    public int Threads { get; }

    /// <summary>Runs every part of <paramref name="work"/>, part 0 on the calling thread; returns when all are done.</summary>
    public void Run(IPartitionedWork work)
    {
        if (_workers.Length == 0)
        {
            work.Run(0, 1);
            return;
        }
        ObjectDisposedException.ThrowIf(_disposed, this);
        _work = work;
        Volatile.Write(ref _pending, _workers.Length);
        Interlocked.Increment(ref _generation); // a full fence: the work and the count are visible before the new generation
        if (Volatile.Read(ref _sleepers) > 0)
            lock (_sleep) Monitor.PulseAll(_sleep);
        Exception? own = null;
        try
        {
            work.Run(0, Threads);
        }
        catch (Exception e)
        {
            own = e;
        }
        var spinner = new SpinWait();
        while (Volatile.Read(ref _pending) != 0) spinner.SpinOnce(sleep1Threshold: -1);
        _work = null;
        var failure = own ?? Interlocked.Exchange(ref _failure, null);
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    private void WorkerLoop(int part)
    {
        var seen = 0;
        while (true)
        {
            var spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                if (++spins < SpinIterations)
                {
                    Thread.SpinWait(8);
                    continue;
                }
                lock (_sleep)
                {
                    Interlocked.Increment(ref _sleepers); // a full fence: Run sees a sleeper, or this sees Run's generation
                    while (Volatile.Read(ref _generation) == seen && !_disposed) Monitor.Wait(_sleep);
                    Interlocked.Decrement(ref _sleepers);
                }
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _generation);
            try
            {
                _work!.Run(part, Threads);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            Interlocked.Decrement(ref _pending);
        }
    }

    /// <summary>Stops the workers (they finish nothing more; a pool is disposed with its session).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_sleep) Monitor.PulseAll(_sleep);
        foreach (var worker in _workers) worker.Join();
    }

    /// <summary>
    /// The first of <paramref name="units"/> units that part <paramref name="part"/> of <paramref name="parts"/> takes:
    /// contiguous, as even as whole units allow (part p takes [Start(p), Start(p + 1))).
    /// </summary>
    public static int Start(int units, int part, int parts) => (int)((long)units * part / parts);
}
