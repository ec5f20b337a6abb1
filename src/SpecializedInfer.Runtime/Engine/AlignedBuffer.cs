using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SpecializedInfer.Engine;

/// <summary>
/// A working buffer of floats (generated engines' activations: a batch's rows, an encoder's states and scratch) that
/// starts on a cache line. A .NET array starts wherever the allocator puts it, so a Vector512 load or store of a row
/// that starts mid-line touches two lines; here the buffer is a pinned array with <see cref="CacheLine.Slack"/> spare
/// floats and the view starts at its first 64-byte boundary, so every row whose width is a multiple of 16 floats starts
/// on a line too. Pinned (the pinned object heap), so the start never moves and is found once.
/// </summary>
public sealed class AlignedBuffer
{
    /// <summary>The most floats one buffer holds (a span's length, less the slack).</summary>
    public const int MaxLength = int.MaxValue - CacheLine.Slack;

    private readonly float[] _values;
    private readonly int _offset;

    /// <summary>A buffer of <paramref name="length"/> zeros starting on a cache line.</summary>
    /// <exception cref="ArgumentException"><paramref name="length"/> is negative or above <see cref="MaxLength"/>.</exception>
    public AlignedBuffer(long length)
    {
        if (length < 0 || length > MaxLength)
            throw new ArgumentException($"An aligned buffer holds 0 to {MaxLength} floats; {length} were asked for.");
        Length = (int)length;
        _values = GC.AllocateArray<float>(Length + CacheLine.Slack, pinned: true);
        ref var first = ref MemoryMarshal.GetArrayDataReference(_values);
        _offset = (int)(Unsafe.ByteOffset(ref first, ref CacheLine.Align(_values, Length)) / sizeof(float));
    }

    /// <summary>An empty buffer, for fields that grow on first use.</summary>
    public static AlignedBuffer Empty { get; } = new(0);

    /// <summary>Floats in the buffer.</summary>
    public int Length { get; }

    /// <summary>The first float, on a 64-byte boundary.</summary>
    public ref float Start => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_values), _offset);

    /// <summary>All <see cref="Length"/> floats.</summary>
    public Span<float> Span => MemoryMarshal.CreateSpan(ref Start, Length);

    /// <summary><paramref name="length"/> floats from <paramref name="start"/> (a row: start = row × width).</summary>
    /// <exception cref="ArgumentException">The range is not inside the buffer.</exception>
    public Span<float> Slice(int start, int length)
    {
        if ((ulong)(uint)start + (uint)length > (uint)Length)
            throw new ArgumentException($"Floats {start} to {(long)start + length} are not inside an aligned buffer of {Length}.");
        return MemoryMarshal.CreateSpan(ref Unsafe.Add(ref Start, start), length);
    }
}
