using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SpecializedInfer.Quantization;

/// <summary>
/// How a matrix product with K-quant weights (Q4_K, Q6_K) quantizes its input vector, as llama.cpp's CPU backend does
/// (<c>quantize_row_q8_K</c>, which on x86 is ggml's reference <c>quantize_row_q8_K_ref</c>): per super-block of 256
/// values, <c>max</c> is the first value of largest magnitude (its sign kept), <c>iscale = −127 / max</c>,
/// <c>q = min(127, round(iscale · x))</c> rounded half to even (ggml's <c>nearest_int</c>), the scale
/// <c>d = 1 / iscale</c> as a float (not fp16), and each 16 values' sum of quants (<c>bsums</c>); a block of zeros
/// gets d = 0 and q = 0. Written as ggml's <c>block_q8_K</c>: d (4 bytes), 256 quants, 16 sums (int16), 292 bytes.
/// </summary>
public static class SuperBlockActivationQuantizer
{
    public const int BlockValues = 256;
    public const int BlockBytes = 292;

    /// <summary>Offset of the quants in a block (after the float scale).</summary>
    public const int QuantsOffset = 4;

    /// <summary>Offset of the 16 int16 sums of 16 quants each.</summary>
    public const int SumsOffset = 260;

    /// <summary>Bytes of the Q8_K blocks of <paramref name="values"/> values.</summary>
    public static int Bytes(int values) => values / BlockValues * BlockBytes;

    /// <summary>Quantizes <paramref name="values"/> (a multiple of 256) into <paramref name="blocks"/>.</summary>
    public static void Q8_K(ReadOnlySpan<float> values, Span<byte> blocks)
    {
        if (values.Length % BlockValues != 0)
            throw new ArgumentException($"A whole number of {BlockValues}-value super-blocks is needed; got {values.Length} values.");
        if (blocks.Length < Bytes(values.Length)) throw new ArgumentException($"Room for {Bytes(values.Length)} bytes is needed.");
        for (int b = 0, o = 0; b < values.Length; b += BlockValues, o += BlockBytes)
            Block(values.Slice(b, BlockValues), blocks.Slice(o, BlockBytes));
    }

    private static void Block(ReadOnlySpan<float> x, Span<byte> block)
    {
        var quants = MemoryMarshal.Cast<byte, sbyte>(block.Slice(QuantsOffset, BlockValues));
        var max = SignedMaximum(x);
        if (max == 0)
        {
            block.Clear();
            return;
        }
        var iscale = -127f / max;
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var qr = ref MemoryMarshal.GetReference(quants);
        var j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(iscale);
            for (; j < BlockValues; j += 32)
            {
                var i0 = Quantize(Vector256.LoadUnsafe(ref xr, (nuint)j), vs);
                var i1 = Quantize(Vector256.LoadUnsafe(ref xr, (nuint)j + 8), vs);
                var i2 = Quantize(Vector256.LoadUnsafe(ref xr, (nuint)j + 16), vs);
                var i3 = Quantize(Vector256.LoadUnsafe(ref xr, (nuint)j + 24), vs);
                Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).StoreUnsafe(ref qr, (nuint)j);
            }
        }
        for (; j < BlockValues; j++)
            Unsafe.Add(ref qr, j) = (sbyte)Math.Min(127f, MathF.Round(iscale * Unsafe.Add(ref xr, j), MidpointRounding.ToEven));
        for (var s = 0; s < BlockValues / 16; s++)
        {
            var sum = 0;
            for (var k = 0; k < 16; k++) sum += quants[16 * s + k];
            BinaryPrimitives.WriteInt16LittleEndian(block.Slice(SumsOffset + 2 * s, 2), (short)sum);
        }
        BinaryPrimitives.WriteSingleLittleEndian(block, 1 / iscale);
    }

    /// <summary>ggml's <c>max</c>: the first value whose magnitude is the largest (strictly greater than every earlier one).</summary>
    private static float SignedMaximum(ReadOnlySpan<float> x)
    {
        float amax = 0, max = 0;
        foreach (var v in x)
        {
            var a = MathF.Abs(v);
            if (a > amax)
            {
                amax = a;
                max = v;
            }
        }
        return max;
    }

    /// <summary>min(127, round(x · iscale)) half to even, as 32-bit integers (|x · iscale| ≤ 127 up to rounding, so never below −128).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Quantize(Vector256<float> x, Vector256<float> iscale) =>
        Vector256.ConvertToInt32(Vector256.Min(Vector256.Round(iscale * x), Vector256.Create(127f)));
}
