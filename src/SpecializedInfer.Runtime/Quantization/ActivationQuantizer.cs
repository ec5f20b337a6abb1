using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SpecializedInfer.Quantization;

/// <summary>
/// How a matrix product with Q8_0 or Q4_0 weights quantizes its input vector, as llama.cpp's CPU backend does on
/// x86 (<c>quantize_row_q8_0</c> in <c>ggml-cpu/arch/x86/quants.c</c>): per block of 32 values,
/// <c>amax = max |x|</c>, the stored scale <c>d = fp16(amax / 127)</c>, and <c>q = round(x · (127 / amax))</c>
/// rounded half to even (<c>_mm256_round_ps(_MM_ROUND_NEAREST)</c>); a block of zeros gets d = 0 and q = 0.
/// This differs from the reference quantizer that writes files (<see cref="ReferenceQuantizer.Q8_0(ReadOnlySpan{float})"/>:
/// multiplier 1/d, halves away from zero) in the last bit of some quants, and is what the product actually multiplies.
/// </summary>
/// <remarks>
/// One block function (<see cref="Block"/>) serves both forms: the 34-byte blocks the reference engine multiplies,
/// and the split arrays of <see cref="QuantizedActivations"/> that generated engines read. Every operation is
/// per element (the maximum of absolute values is exact in any order), so the vector path gives the scalar bytes.
/// </remarks>
public static class ActivationQuantizer
{
    public const int BlockValues = 32;
    public const int BlockBytes = 34;

    /// <summary>Bytes of the Q8_0 blocks of <paramref name="values"/> values.</summary>
    public static int Bytes(int values) => values / BlockValues * BlockBytes;

    /// <summary>Quantizes <paramref name="values"/> (a multiple of 32) into <paramref name="blocks"/>.</summary>
    public static void Q8_0(ReadOnlySpan<float> values, Span<byte> blocks)
    {
        CheckWhole(values.Length);
        if (blocks.Length < Bytes(values.Length)) throw new ArgumentException($"Room for {Bytes(values.Length)} bytes is needed.");
        for (int b = 0, o = 0; b < values.Length; b += BlockValues, o += BlockBytes)
        {
            var (scale, _) = Block(values.Slice(b, BlockValues), MemoryMarshal.Cast<byte, sbyte>(blocks.Slice(o + 2, BlockValues)));
            BinaryPrimitives.WriteHalfLittleEndian(blocks.Slice(o, 2), scale);
        }
    }

    /// <summary>
    /// Quantizes <paramref name="values"/> (a multiple of 32) into separate arrays: the quants in order, each block's
    /// scale as a float (the fp16 value, exactly), and each block's sum of quants.
    /// </summary>
    public static void Q8_0(ReadOnlySpan<float> values, Span<sbyte> quants, Span<float> scales, Span<int> sums)
    {
        CheckWhole(values.Length);
        var blocks = values.Length / BlockValues;
        if (quants.Length < values.Length || scales.Length < blocks || sums.Length < blocks)
            throw new ArgumentException($"Room for {values.Length} quants and {blocks} scales and sums is needed.");
        for (var b = 0; b < blocks; b++)
        {
            var (scale, sum) = Block(values.Slice(b * BlockValues, BlockValues), quants.Slice(b * BlockValues, BlockValues));
            scales[b] = (float)scale;
            sums[b] = sum;
        }
    }

    private static void CheckWhole(int values)
    {
        if (values % BlockValues != 0)
            throw new ArgumentException($"A whole number of {BlockValues}-value blocks is needed; got {values} values.");
    }

    /// <summary>One block of 32 values: its quants into <paramref name="q"/>, its fp16 scale and the sum of its quants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Half Scale, int Sum) Block(ReadOnlySpan<float> x, Span<sbyte> q)
    {
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var qr = ref MemoryMarshal.GetReference(q);
        if (Vector256.IsHardwareAccelerated)
        {
            var v0 = Vector256.LoadUnsafe(ref xr);
            var v1 = Vector256.LoadUnsafe(ref xr, 8);
            var v2 = Vector256.LoadUnsafe(ref xr, 16);
            var v3 = Vector256.LoadUnsafe(ref xr, 24);
            var m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
            var m4 = Vector128.Max(m.GetLower(), m.GetUpper());
            var vmax = MathF.Max(MathF.Max(m4.GetElement(0), m4.GetElement(1)), MathF.Max(m4.GetElement(2), m4.GetElement(3)));
            var vid = Vector256.Create(vmax != 0 ? 127f / vmax : 0f);
            var i0 = Quantize(v0, vid);
            var i1 = Quantize(v1, vid);
            var i2 = Quantize(v2, vid);
            var i3 = Quantize(v3, vid);
            var bytes = Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3));
            // Narrow puts its first argument's lanes before its second's: the bytes come out in order.
            bytes.StoreUnsafe(ref qr);
            return ((Half)(vmax / 127f), Vector256.Sum(i0 + i1 + i2 + i3));
        }
        var amax = 0f;
        for (var j = 0; j < BlockValues; j++) amax = MathF.Max(amax, MathF.Abs(Unsafe.Add(ref xr, j)));
        var id = amax != 0 ? 127f / amax : 0f;
        var sum = 0;
        for (var j = 0; j < BlockValues; j++)
        {
            var v = (sbyte)Math.Clamp(MathF.Round(Unsafe.Add(ref xr, j) * id, MidpointRounding.ToEven), -128f, 127f);
            Unsafe.Add(ref qr, j) = v;
            sum += v;
        }
        return ((Half)(amax / 127f), sum);
    }

    /// <summary>round(x · id) half to even, clamped to a signed byte's range, as 32-bit integers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Quantize(Vector256<float> x, Vector256<float> id) =>
        Vector256.ConvertToInt32(Vector256.Clamp(Vector256.Round(x * id), Vector256.Create(-128f), Vector256.Create(127f)));
}
