using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SpecializedInfer.Engine;

/// <summary>
/// Cache-line alignment for generated kernels' scratch buffers. Finding an address's alignment needs a pointer, and
/// generated code must not need <c>AllowUnsafeBlocks</c> in the user's project, so the kernels call this instead.
/// A Vector512 load that straddles two cache lines reads both: weights the kernels read many times from L1 go through
/// a buffer that starts on a line.
/// </summary>
public static class CacheLine
{
    /// <summary>Bytes in a cache line.</summary>
    public const int Bytes = 64;

    /// <summary>Floats a buffer needs beyond its <c>length</c> so that <see cref="Align"/> always finds room.</summary>
    public const int Slack = Bytes / sizeof(float);

    /// <summary>
    /// The first element of <paramref name="buffer"/> on a 64-byte boundary, with <paramref name="length"/> floats from it
    /// inside the buffer. The buffer must not move while the reference is used (stack memory, as the kernels'
    /// <c>stackalloc</c>, or pinned).
    /// </summary>
    /// <exception cref="ArgumentException">The buffer is shorter than <paramref name="length"/> plus <see cref="Slack"/>.</exception>
    public static unsafe ref float Align(Span<float> buffer, int length)
    {
        if (length < 0 || buffer.Length < (long)length + Slack)
            throw new ArgumentException($"An aligned buffer of {length} floats needs {length + (long)Slack} floats; this one has {buffer.Length}.");
        ref var first = ref MemoryMarshal.GetReference(buffer);
        var address = (nuint)Unsafe.AsPointer(ref first);
        var skip = (int)((Bytes - (address & (Bytes - 1))) & (Bytes - 1)) / sizeof(float);
        return ref Unsafe.Add(ref first, skip);
    }
}
