using System.Runtime.CompilerServices;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Tests.Engine;

public sealed class AlignedBufferTests
{
    [Fact]
    public unsafe void Every_buffer_starts_on_a_64_byte_boundary_and_rows_of_16_floats_stay_on_lines()
    {
        // Many sizes, allocated in between ordinary arrays of odd sizes, so the allocator's own placement varies.
        var unaligned = 0;
        var keep = new List<object>();
        for (var length = 0; length < 600; length += 7)
        {
            keep.Add(new float[length % 13 + 1]);
            var plain = GC.AllocateArray<float>(length + 1, pinned: true);
            if ((nuint)Unsafe.AsPointer(ref plain[0]) % 64 != 0) unaligned++;
            var buffer = new AlignedBuffer(length);
            keep.Add(buffer);
            Assert.Equal(length, buffer.Length);
            Assert.Equal(length, buffer.Span.Length);
            Assert.Equal(0u, (nuint)Unsafe.AsPointer(ref buffer.Start) % 64);
            for (var row = 0; (row + 1) * 16 <= length; row++)
                Assert.Equal(0u, (nuint)Unsafe.AsPointer(ref buffer.Slice(row * 16, 16)[0]) % 64);
        }
        // The check means something only if plain arrays land off lines (they start 16 bytes into their object).
        Assert.True(unaligned > 0);
        GC.KeepAlive(keep);
    }

    [Fact]
    public void A_buffer_starts_zeroed_and_its_slices_are_views_of_the_same_floats()
    {
        var buffer = new AlignedBuffer(100);
        Assert.All(buffer.Span.ToArray(), v => Assert.Equal(0f, v));
        buffer.Slice(32, 16).Fill(3f);
        Assert.Equal(3f, buffer.Span[32]);
        Assert.Equal(3f, buffer.Span[47]);
        Assert.Equal(0f, buffer.Span[48]);
        Assert.Equal(0f, buffer.Span[31]);
        buffer.Span[99] = 5f;
        Assert.Equal(5f, buffer.Slice(90, 10)[9]);
        Assert.Empty(buffer.Slice(100, 0).ToArray());
        Assert.Equal(0, AlignedBuffer.Empty.Length);
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData((long)int.MaxValue)]
    [InlineData(long.MaxValue)]
    public void A_length_out_of_range_is_refused_with_a_sentence(long length)
    {
        var error = Assert.Throws<ArgumentException>(() => new AlignedBuffer(length));
        Assert.Equal($"An aligned buffer holds 0 to {AlignedBuffer.MaxLength} floats; {length} were asked for.", error.Message);
    }

    [Theory]
    [InlineData(-1, 4)]
    [InlineData(0, 101)]
    [InlineData(97, 4)]
    [InlineData(4, -1)]
    [InlineData(int.MaxValue, 1)]
    public void A_slice_outside_the_buffer_is_refused_with_a_sentence(int start, int length)
    {
        var buffer = new AlignedBuffer(100);
        var error = Assert.Throws<ArgumentException>(() => { buffer.Slice(start, length); });
        Assert.Equal($"Floats {start} to {(long)start + length} are not inside an aligned buffer of 100.", error.Message);
    }
}
