using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Quantization;

/// <summary>
/// Dot products of a quantized weight row with Q8_0-quantized activations (<see cref="ActivationQuantizer"/>), the
/// arithmetic of llama.cpp's CPU backend written in one fixed order. This order is the definition every executor
/// reproduces (the reference engine here, generated engines later). It is ggml's portable scalar kernel
/// (<c>ggml_vec_dot_q8_0_q8_0_generic</c>, <c>ggml_vec_dot_q4_0_q8_0_generic</c>) as the shipped library computes it,
/// checked bit for bit against it:
/// <list type="number">
/// <item>per block b of 32 values, the exact integer <c>s_b = Σ w_j · x_j</c> (w the weight quants, Q4_0's minus 8);</item>
/// <item>blocks in order b = 0, 1, ... into <c>sum</c> (starting at 0) with one fused multiply-add each, rounded once:
/// Q8_0 <c>sum = fma((float)s_b, d_w · d_x, sum)</c>; Q4_0 <c>sum = fma((float)s_b · d_w, d_x, sum)</c>, where d_w and
/// d_x are the blocks' fp16 scales as floats and every other operation is a float operation rounded to float.</item>
/// </list>
/// The fused multiply-add is ggml's too: its C source says <c>sumf += sumi*(dx*dy)</c>, which GCC contracts into
/// one FMA when it builds for FMA-capable x86 (its default <c>-ffp-contract=fast</c>). ggml's SIMD kernels
/// (AVX2/AVX-512) accumulate the blocks in vector lanes in another order, so they differ from this by float rounding
/// (measured in the tests); the integer sums of step 1 are exact in any order, which is what lets a vectorized
/// executor reproduce this definition exactly.
/// </summary>
public static class QuantizedDot
{
    /// <summary>
    /// Whether weights of <paramref name="type"/> are multiplied in their blocks (and so stay in the file mapping):
    /// Q8_0 and Q4_0 here, with Q8_0 activations; Q4_K and Q6_K in <see cref="SuperBlockDot"/>, with Q8_K activations.
    /// </summary>
    public static bool Computes(GgmlType type) => type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q6_K;

    /// <summary>Whether weights of <paramref name="type"/> are multiplied with Q8_K activations (super-blocks of 256), not Q8_0.</summary>
    public static bool UsesSuperBlocks(GgmlType type) => type is GgmlType.Q4_K or GgmlType.Q6_K;

    /// <summary>Bytes of one row of <paramref name="cols"/> activations quantized for weights of <paramref name="type"/>.</summary>
    public static int ActivationBytes(GgmlType type, int cols) =>
        UsesSuperBlocks(type) ? SuperBlockActivationQuantizer.Bytes(cols) : ActivationQuantizer.Bytes(cols);

    /// <summary>Quantizes <paramref name="values"/> as a product with <paramref name="type"/> weights reads them (Q8_0 or Q8_K blocks).</summary>
    public static void QuantizeActivations(GgmlType type, ReadOnlySpan<float> values, Span<byte> blocks)
    {
        if (UsesSuperBlocks(type)) SuperBlockActivationQuantizer.Q8_K(values, blocks);
        else ActivationQuantizer.Q8_0(values, blocks);
    }

    /// <summary>
    /// The dot product of one weight row of <paramref name="type"/> and <paramref name="cols"/> values with activations
    /// quantized for it (<see cref="QuantizeActivations"/>).
    /// </summary>
    public static float Row(GgmlType type, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int cols) => type switch
    {
        GgmlType.Q8_0 => Q8_0(weights, activations, cols / ActivationQuantizer.BlockValues),
        GgmlType.Q4_0 => Q4_0(weights, activations, cols / ActivationQuantizer.BlockValues),
        GgmlType.Q4_K => SuperBlockDot.Q4_K(weights, activations, cols / SuperBlockDot.BlockValues),
        GgmlType.Q6_K => SuperBlockDot.Q6_K(weights, activations, cols / SuperBlockDot.BlockValues),
        _ => throw new NotSupportedException($"No quantized dot product for {type} weights."),
    };

    /// <summary>Q8_0 weights (34-byte blocks) · Q8_0 activations over <paramref name="blocks"/> blocks.</summary>
    public static float Q8_0(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int blocks)
    {
        ref var w = ref MemoryMarshal.GetReference(weights);
        ref var x = ref MemoryMarshal.GetReference(activations);
        if (weights.Length < blocks * 34 || activations.Length < blocks * 34) throw new ArgumentException("Rows shorter than their blocks.");
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            ref var wb = ref Unsafe.Add(ref w, b * 34);
            ref var xb = ref Unsafe.Add(ref x, b * 34);
            var s = Avx2.IsSupported ? IntegerDot(Unsafe.ReadUnaligned<Vector256<sbyte>>(ref Unsafe.Add(ref wb, 2)), ref Unsafe.Add(ref xb, 2)) : ScalarQ8(ref wb, ref xb);
            sum = MathF.FusedMultiplyAdd(s, Scale(ref wb) * Scale(ref xb), sum);
        }
        return sum;
    }

    /// <summary>Q4_0 weights (18-byte blocks: value j in the low nibble of byte j, value j + 16 in its high nibble) · Q8_0 activations.</summary>
    public static float Q4_0(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int blocks)
    {
        ref var w = ref MemoryMarshal.GetReference(weights);
        ref var x = ref MemoryMarshal.GetReference(activations);
        if (weights.Length < blocks * 18 || activations.Length < blocks * 34) throw new ArgumentException("Rows shorter than their blocks.");
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            ref var wb = ref Unsafe.Add(ref w, b * 18);
            ref var xb = ref Unsafe.Add(ref x, b * 34);
            int s;
            if (Avx2.IsSupported)
            {
                var packed = Unsafe.ReadUnaligned<Vector128<byte>>(ref Unsafe.Add(ref wb, 2));
                var nibbles = Vector256.Create(packed & Vector128.Create((byte)0x0F), Vector128.ShiftRightLogical(packed, 4));
                s = IntegerDot((nibbles.AsSByte() - Vector256.Create((sbyte)8)), ref Unsafe.Add(ref xb, 2));
            }
            else s = ScalarQ4(ref wb, ref xb);
            sum = MathF.FusedMultiplyAdd(s * Scale(ref wb), Scale(ref xb), sum);
        }
        return sum;
    }

    private static float Scale(ref byte block) => (float)Unsafe.ReadUnaligned<Half>(ref block);

    /// <summary>Σ w_j · x_j over 32 signed bytes, exact: |w| as unsigned times x with w's sign, pairs summed to 16 bits (at most 2·128·127), then to 32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int IntegerDot(Vector256<sbyte> w, ref byte xs)
    {
        var x = Unsafe.ReadUnaligned<Vector256<sbyte>>(ref xs);
        var pairs = Avx2.MultiplyAddAdjacent(Avx2.Sign(w, w).AsByte(), Avx2.Sign(x, w));
        var quads = Avx2.MultiplyAddAdjacent(pairs, Vector256<short>.One);
        return Vector256.Sum(quads);
    }

    private static int ScalarQ8(ref byte w, ref byte x)
    {
        var s = 0;
        for (var j = 2; j < 34; j++) s += (sbyte)Unsafe.Add(ref w, j) * (sbyte)Unsafe.Add(ref x, j);
        return s;
    }

    private static int ScalarQ4(ref byte w, ref byte x)
    {
        int s0 = 0, s1 = 0;
        for (var j = 0; j < 16; j++)
        {
            int q = Unsafe.Add(ref w, 2 + j);
            s0 += ((q & 0x0F) - 8) * (sbyte)Unsafe.Add(ref x, 2 + j);
            s1 += ((q >> 4) - 8) * (sbyte)Unsafe.Add(ref x, 2 + j + 16);
        }
        return s0 + s1;
    }
}
