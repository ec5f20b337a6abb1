using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Tests.Engine;

public sealed class CacheLineTests
{
    [Fact]
    public unsafe void Align_returns_the_first_element_on_a_64_byte_boundary_whatever_the_buffer_s_own_alignment()
    {
        var storage = GC.AllocateArray<float>(64 + CacheLine.Slack + 16, pinned: true);
        fixed (float* start = storage)
        {
            for (var shift = 0; shift < 16; shift++)
            {
                var buffer = storage.AsSpan(shift, 64 + CacheLine.Slack);
                ref var aligned = ref CacheLine.Align(buffer, 64);
                var address = (nuint)Unsafe.AsPointer(ref aligned);
                Assert.Equal(0u, address % 64);
                // The nearest line at or after the buffer's start: fewer than 16 floats skipped, 64 floats left inside.
                var skipped = (long)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(buffer), ref aligned) / sizeof(float);
                Assert.InRange(skipped, 0, CacheLine.Slack - 1);
                Assert.Equal(((64 - ((nuint)(start + shift) % 64)) % 64) / sizeof(float), (nuint)skipped);
            }
        }
    }

    [Fact]
    public void Align_rejects_a_buffer_without_room_for_the_length_after_the_boundary_with_a_sentence()
    {
        var buffer = new float[64 + CacheLine.Slack - 1];
        var e = Assert.Throws<ArgumentException>(() => { CacheLine.Align(buffer, 64); });
        Assert.Equal($"An aligned buffer of 64 floats needs {64 + CacheLine.Slack} floats; this one has {buffer.Length}.", e.Message);
    }
}
