using System.Globalization;

namespace SpecializedInfer.Engine;

/// <summary>
/// How sessions of every executor hold their context: the KV cache and everything else sized by positions (rotary
/// table, attention scores, parked states) start at <see cref="InitialPositions"/> and double as the context fills, so a
/// session created for 16 million positions costs what its tokens use; a context whose full size could never fit in
/// the memory the process may use is refused when the session is created, not when it runs out halfway.
/// </summary>
public static class ContextCapacity
{
    /// <summary>Positions held when a session is created (or fewer, when its context is shorter).</summary>
    public const int InitialPositions = 256;

    /// <summary>Capacities are multiples of this, so vector kernels can step over score rows without tails.</summary>
    public const int Granule = 16;

    /// <summary>The positions a new session holds for a context of <paramref name="contextLength"/>.</summary>
    public static int Initial(int contextLength) => Round(Math.Min(contextLength, InitialPositions), contextLength);

    /// <summary>
    /// The capacity after growing from <paramref name="current"/> to hold at least <paramref name="needed"/> positions:
    /// at least double (copying stays linear in the positions filled), at most the context rounded up to the granule.
    /// </summary>
    public static int Grow(int current, int needed, int contextLength) =>
        Round((int)Math.Min(Math.Max((long)current * 2, needed), contextLength), contextLength);

    /// <summary>The capacity of a full context: <paramref name="contextLength"/> rounded up to the granule.</summary>
    public static long Full(int contextLength) => ((long)contextLength + Granule - 1) / Granule * Granule;

    private static int Round(int positions, int contextLength) =>
        (int)Math.Min(((long)positions + Granule - 1) / Granule * Granule, Full(contextLength));

    /// <summary>
    /// Refuses a context whose full size, <paramref name="bytesPerPosition"/> × <paramref name="contextLength"/>, exceeds
    /// the memory the process may use (physical memory or the container's limit, as the GC sees it), or whose largest
    /// array (<paramref name="widestFloatsPerPosition"/> floats per position) would pass .NET's array length limit.
    /// </summary>
    public static void EnsureFits(int contextLength, long bytesPerPosition, int widestFloatsPerPosition, string engineName) =>
        EnsureFits(contextLength, bytesPerPosition, widestFloatsPerPosition, engineName, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);

    /// <summary>As <see cref="EnsureFits(int,long,int,string)"/> with the available bytes given (for tests).</summary>
    public static void EnsureFits(int contextLength, long bytesPerPosition, int widestFloatsPerPosition, string engineName, long availableBytes)
    {
        var needed = (decimal)Full(contextLength) * bytesPerPosition;
        if (needed > availableBytes)
            throw new ContextTooLargeException(string.Create(CultureInfo.InvariantCulture,
                $"A context of {contextLength:N0} positions needs {Gigabytes(needed)} for {engineName}'s KV cache and position tables " +
                $"({bytesPerPosition:N0} bytes per position), more than the {Gigabytes(availableBytes)} of memory this process may use; " +
                $"ask for a shorter context (at most {availableBytes / bytesPerPosition / Granule * Granule:N0} positions)."));
        if (Full(contextLength) * widestFloatsPerPosition > Array.MaxLength)
            throw new ContextTooLargeException(string.Create(CultureInfo.InvariantCulture,
                $"A context of {contextLength:N0} positions needs arrays of {Full(contextLength) * widestFloatsPerPosition:N0} floats " +
                $"({widestFloatsPerPosition:N0} per position) in {engineName}, more than a .NET array holds ({Array.MaxLength:N0}); " +
                $"ask for a shorter context (at most {Array.MaxLength / widestFloatsPerPosition / Granule * Granule:N0} positions)."));
    }

    private static string Gigabytes(decimal bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024m * 1024 * 1024):0.##} GiB");
}

/// <summary>A session was asked for a context whose cache could never fit in the memory the process may use.</summary>
public sealed class ContextTooLargeException(string message) : InvalidOperationException(message);
