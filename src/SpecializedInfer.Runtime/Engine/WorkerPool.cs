namespace SpecializedInfer.Engine;

/// <summary>
/// Work split into parts that a <see cref="WorkerPool"/> runs at once, each part on one thread. Any thread may run
/// any part, so what a part computes must depend on its index alone (and scratch it uses be the part's own).
/// </summary>
public interface IPartitionedWork
{
    /// <summary>Runs part <paramref name="part"/> of <paramref name="parts"/>.</summary>
    void Run(int part, int parts);
}

/// <summary>
/// A session's threads: the caller and <see cref="Threads"/> − 1 workers that live as long as the pool, as
/// llama.cpp's thread pool does. <see cref="Run"/> publishes the work with a new generation number; then every thread,
/// the caller included, claims parts (a compare-and-swap on the generation and the next part, so a worker late for
/// one run can never claim a part of the next) and runs them, and the caller waits until every claimed part is done.
/// No allocation, no task, no lock per call. A part goes to whichever thread claims it first, so a worker the
/// operating system has not scheduled yet costs nothing but its share (the caller runs it); each part's arithmetic is
/// the caller's to define, so a partition that gives every output to one part gives the same bits for any number of
/// threads. Workers spin on the generation between calls (a token's calls follow each other within microseconds)
/// and, after <see cref="SpinIterations"/> idle spins, sleep on a monitor that <see cref="Run"/> pulses only when
/// someone sleeps.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    /// <summary>Idle spins before a worker sleeps (a fraction of a millisecond).</summary>
    public const int SpinIterations = 2_000;

    /// <summary>The most threads a pool takes.</summary>
    public const int MaxThreads = 256;

    private readonly Thread[] _workers;
    private readonly object _sleep = new();
    private IPartitionedWork? _work;
    private long _claims; // generation << 32 | next part to claim
    private int _pending; // parts claimed or not, not yet done
    private int _sleepers;
    private Exception? _failure;
    private volatile bool _disposed;

    /// <summary>A pool of <paramref name="threads"/> threads in all (the caller counts as one): 1 runs everything on the caller.</summary>
    public WorkerPool(int threads)
    {
        if (threads < 1 || threads > MaxThreads)
            throw new ArgumentOutOfRangeException($"A session runs on 1 to {MaxThreads} threads, not {threads}.", innerException: null);
        Threads = threads;
        _workers = new Thread[threads - 1];
        for (var i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"SpecializedInfer worker {i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Threads in all, the caller included; also the number of parts every run is split into.</summary>
    public int Threads { get; }

    private int Generation => (int)(Volatile.Read(ref _claims) >> 32);

    /// <summary>Runs every part of <paramref name="work"/>; the calling thread takes part in it and returns when all are done.</summary>
    public void Run(IPartitionedWork work)
    {
        if (_workers.Length == 0)
        {
            work.Run(0, 1);
            return;
        }
        ObjectDisposedException.ThrowIf(_disposed, this);
        _work = work;
        Volatile.Write(ref _pending, Threads);
        var generation = Generation + 1;
        Interlocked.Exchange(ref _claims, (long)generation << 32); // a full fence: the work and the count are visible first
        if (Volatile.Read(ref _sleepers) > 0)
            lock (_sleep) Monitor.PulseAll(_sleep);
        RunParts(generation);
        var spinner = new SpinWait();
        while (Volatile.Read(ref _pending) != 0) spinner.SpinOnce(sleep1Threshold: -1);
        _work = null;
        if (Interlocked.Exchange(ref _failure, null) is { } failure) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    /// <summary>Claims and runs parts of run <paramref name="generation"/> until none is left.</summary>
    private void RunParts(int generation)
    {
        while (true)
        {
            var claims = Volatile.Read(ref _claims);
            var part = (int)claims;
            if ((int)(claims >> 32) != generation || part >= Threads) return;
            if (Interlocked.CompareExchange(ref _claims, claims + 1, claims) != claims) continue;
            try
            {
                _work!.Run(part, Threads); // the run cannot end, nor the next begin, before this part is done
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            Interlocked.Decrement(ref _pending);
        }
    }

    private void WorkerLoop()
    {
        var seen = 0;
        while (true)
        {
            var spins = 0;
            while (Generation == seen && !_disposed)
            {
                if (++spins < SpinIterations)
                {
                    Thread.SpinWait(8);
                    continue;
                }
                lock (_sleep)
                {
                    Interlocked.Increment(ref _sleepers); // a full fence: Run sees a sleeper, or this sees Run's generation
                    while (Generation == seen && !_disposed) Monitor.Wait(_sleep);
                    Interlocked.Decrement(ref _sleepers);
                }
            }
            if (_disposed) return;
            seen = Generation;
            RunParts(seen);
        }
    }

    /// <summary>Stops the workers (a pool is disposed with its session).</summary>
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
