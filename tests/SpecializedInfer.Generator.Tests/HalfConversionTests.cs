using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// The generated kernels convert a tile's fp16 scales with shifts, masks and a multiply by 2¹¹² (no .NET 10 API
/// reaches VCVTPH2PS). Every one of the 65,536 fp16 bit patterns must come out as (float)Half gives it (the scalar
/// path and the reference engine convert that way): the same bits for every finite value and infinity, a NaN for a
/// NaN. Run through this test assembly's own generated VectorMath (its engines' copy), on the widths this machine has.
/// </summary>
public sealed class HalfConversionTests
{
    /// <summary>The helpers are private protected: a derived class reaches them.</summary>
    private sealed class Helpers : SpecializedInfer.Generated.VectorMath
    {
        public static void Two(ref byte source, out Vector256<float> lo, out Vector256<float> hi) => HalfToSingle(ref source, out lo, out hi);
        public static Vector256<float> Eight(ref byte source) => HalfToSingle8(ref source);
        public static Vector512<float> Sixteen(ref byte source) => HalfToSingle16(ref source);
        public static Vector512<byte> High(Vector512<byte> p) => HighNibbles(p);
    }

    [Fact]
    public void Every_fp16_bit_pattern_converts_as_a_Half_cast_does()
    {
        Assert.True(Avx2.IsSupported, "the integer kernels' vector paths need AVX2; this machine has none to test");
        var halves = new ushort[65536];
        for (var i = 0; i < halves.Length; i++) halves[i] = (ushort)i;
        ref var bytes = ref Unsafe.As<ushort, byte>(ref halves[0]);
        var checkedWidths = 0;
        for (var at = 0; at < halves.Length; at += 16)
        {
            ref var source = ref Unsafe.Add(ref bytes, 2 * at);
            Helpers.Two(ref source, out var lo, out var hi);
            Check(at, lo, "HalfToSingle (low)");
            Check(at + 8, hi, "HalfToSingle (high)");
            Check(at + 8, Helpers.Eight(ref Unsafe.Add(ref source, 16)), "HalfToSingle8");
            if (Avx512F.IsSupported)
            {
                var wide = Helpers.Sixteen(ref source);
                Check(at, wide.GetLower(), "HalfToSingle16 (low)");
                Check(at + 8, wide.GetUpper(), "HalfToSingle16 (high)");
            }
            checkedWidths++;
        }
        Assert.Equal(4096, checkedWidths);
    }

    [Fact]
    public void High_nibbles_are_each_byte_shifted_right_four()
    {
        if (!Vector512.IsHardwareAccelerated) return; // the 512-bit kernels that use it run only where this holds
        var bytes = new byte[256];
        for (var i = 0; i < bytes.Length; i++) bytes[i] = (byte)i;
        for (var at = 0; at < bytes.Length; at += 64)
        {
            var high = Helpers.High(Vector512.Create(bytes.AsSpan(at, 64)));
            for (var j = 0; j < 64; j++) Assert.Equal(bytes[at + j] >> 4, high[j]);
        }
    }

    private static void Check(int first, Vector256<float> actual, string what)
    {
        for (var j = 0; j < 8; j++)
        {
            var expected = (float)BitConverter.UInt16BitsToHalf((ushort)(first + j));
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual[j]), $"{what}: 0x{first + j:X4} is a NaN, not {actual[j]}");
            else Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual[j]),
                $"{what}: 0x{first + j:X4} is {expected} (0x{BitConverter.SingleToUInt32Bits(expected):X8}), not {actual[j]} (0x{BitConverter.SingleToUInt32Bits(actual[j]):X8})");
        }
    }
}
