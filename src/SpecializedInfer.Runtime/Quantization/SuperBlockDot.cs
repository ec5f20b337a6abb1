using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SpecializedInfer.Quantization;

/// <summary>
/// Dot products of a K-quant weight row (Q4_K, Q6_K) with Q8_K activations (<see cref="SuperBlockActivationQuantizer"/>),
/// the arithmetic of llama.cpp's CPU backend in one fixed order, which every executor reproduces:
/// <list type="number">
/// <item>per super-block b of 256 values, the exact integer sums ggml's kernels form. Q6_K (sixteen sub-blocks of 16,
/// signed 8-bit scales s_j, quants q − 32): <c>S_b = Σ_j s_j · Σ_{p∈j} (q_p − 32) · x_p</c>. Q4_K (eight sub-blocks of
/// 32, 6-bit scales sc_j and minimums m_j, quants q in 0..15): <c>S_b = Σ_j sc_j · Σ_{p∈j} q_p · x_p</c> and
/// <c>M_b = Σ_j m_j · Σ_{p∈j} x_p</c> (from the activations' 16-value sums);</item>
/// <item>super-blocks in order into <c>sum</c> (starting at 0), each with one fused multiply-add per sum, rounded once:
/// <c>sum = fma((float)S_b, d_w · d_x, sum)</c>, and for Q4_K then <c>sum = fma(−(float)M_b, dmin_w · d_x, sum)</c>,
/// where d_w, dmin_w are the weights' fp16 scales and d_x the activations' float scale.</item>
/// </list>
/// ggml's own kernels compute the same integers (exactly; ggml's portable kernel splits S_b over 8 lanes by position
/// mod 8, its AVX kernels otherwise) and add the float terms in another order, so they differ from this by float
/// rounding only (measured in the tests). One integer per super-block is what lets a vectorized or tiled executor
/// reproduce this definition exactly.
/// </summary>
public static class SuperBlockDot
{
    public const int BlockValues = 256;
    public const int Q4KBytes = 144;
    public const int Q6KBytes = 210;

    private const int Q8KBytes = SuperBlockActivationQuantizer.BlockBytes;
    private const int PrefetchAhead = 16384;

    /// <summary>Super-blocks per row from which a Q6_K matrix is multiplied one row at a time (see <see cref="Rows"/>).</summary>
    private const int OneRowBlocks = 8;
    private const int Quants = SuperBlockActivationQuantizer.QuantsOffset;
    private const int Sums = SuperBlockActivationQuantizer.SumsOffset;

    /// <summary>
    /// output[i] = row i of <paramref name="w"/> (Q4_K or Q6_K, in the file mapping) · <paramref name="activations"/>
    /// (Q8_K blocks of one input) for rows <paramref name="from"/>..<paramref name="to"/>−1: the product a generated
    /// engine runs for a K-quant head, each row the reference engine's <see cref="QuantizedDot.Row"/>.
    /// </summary>
    public static void Rows(Models.WeightTensor w, ReadOnlySpan<byte> activations, Span<float> output, int from, int to)
    {
        var blocks = w.Cols / BlockValues;
        if (w.Type == Gguf.GgmlType.Q6_K)
        {
            var i = from;
            // Four rows at a time pays on short rows (the stories110M shape's 3 super-blocks a row, where a row's
            // horizontal sums and calls weigh). From 8 super-blocks a row, one row at a time reads one sequential stream
            // that the hardware prefetcher follows; four rows are four interleaved streams, which needed the software
            // prefetch and still read 13-15 GB/s where one row reads 20-22 (TinyLlama's 32000 × 2048 output, EPYC Zen 4).
            if (Avx2.IsSupported && blocks < OneRowBlocks && activations.Length >= blocks * Q8KBytes && output.Length >= to)
                for (; i + 4 <= to; i += 4) Q6KFourRows(w, i, ref MemoryMarshal.GetReference(activations), blocks, output.Slice(i, 4));
            for (; i < to; i++) output[i] = Q6_K(w.QuantizedRow(i), activations, blocks);
        }
        else if (w.Type == Gguf.GgmlType.Q4_K)
        {
            var i = from;
            if (Avx2.IsSupported && activations.Length >= blocks * Q8KBytes && output.Length >= to)
                for (; i + 4 <= to; i += 4) Q4KFourRows(w, i, ref MemoryMarshal.GetReference(activations), blocks, output.Slice(i, 4));
            for (; i < to; i++) output[i] = Q4_K(w.QuantizedRow(i), activations, blocks);
        }
        else throw new NotSupportedException($"This matrix is {w.Type}, not Q4_K or Q6_K.");
    }

    /// <summary>Q6_K weights (210-byte super-blocks) · Q8_K activations over <paramref name="blocks"/> super-blocks.</summary>
    public static float Q6_K(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int blocks)
    {
        if (weights.Length < blocks * Q6KBytes || activations.Length < blocks * Q8KBytes) throw new ArgumentException("Rows shorter than their blocks.");
        ref var w = ref MemoryMarshal.GetReference(weights);
        ref var x = ref MemoryMarshal.GetReference(activations);
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            ref var wb = ref Unsafe.Add(ref w, b * Q6KBytes);
            ref var xb = ref Unsafe.Add(ref x, b * Q8KBytes);
            var s = Avx2.IsSupported ? Vector256.Sum(IntegerQ6K(ref wb, ref xb)) : ScalarQ6K(ref wb, ref xb);
            sum = MathF.FusedMultiplyAdd(s, Half(ref wb, 208) * Unsafe.ReadUnaligned<float>(ref xb), sum);
        }
        return sum;
    }

    /// <summary>
    /// Rows <paramref name="row"/>..+3 of a Q6_K matrix at once, each exactly <see cref="Q6_K"/>'s arithmetic: the four
    /// integer sums of a super-block gathered into one vector (the lanes are the rows), converted and added with one
    /// vector fused multiply-add, lane by lane the scalar chain.
    /// </summary>
    private static void Q6KFourRows(Models.WeightTensor w, int row, ref byte x, int blocks, Span<float> output)
    {
        ref var w0 = ref FourRows(w, row, out var stride);
        var sum = Vector128<float>.Zero;
        for (var b = 0; b < blocks; b++)
        {
            ref var wb = ref Unsafe.Add(ref w0, b * Q6KBytes);
            ref var xb = ref Unsafe.Add(ref x, b * Q8KBytes);
            var s = Sum4(IntegerQ6K(ref wb, ref xb), IntegerQ6K(ref Unsafe.Add(ref wb, stride), ref xb),
                IntegerQ6K(ref Unsafe.Add(ref wb, 2 * stride), ref xb), IntegerQ6K(ref Unsafe.Add(ref wb, 3 * stride), ref xb));
            var dx = Unsafe.ReadUnaligned<float>(ref xb);
            var d = Vector128.Create(Half(ref wb, 208), Half(ref Unsafe.Add(ref wb, stride), 208), Half(ref Unsafe.Add(ref wb, 2 * stride), 208), Half(ref Unsafe.Add(ref wb, 3 * stride), 208));
            sum = Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(s), d * dx, sum);
        }
        sum.CopyTo(output);
    }

    /// <summary>
    /// Rows <paramref name="row"/>..+3 of a K-quant matrix: the first row's blocks and the distance between rows (four
    /// rows of whole super-blocks, contiguous in the mapping). The matrix streams from memory: the bytes 16 KiB ahead
    /// (the four rows' length of them) are asked for into L2, as the generated kernels do, where still inside the matrix.
    /// </summary>
    private static ref byte FourRows(Models.WeightTensor w, int row, out nint stride)
    {
        ref var w0 = ref MemoryMarshal.GetReference(w.QuantizedRow(row));
        stride = (nint)w.RowBytes;
        if ((long)(row + 4) * stride + PrefetchAhead + 4 * stride <= (long)w.Rows * stride)
            for (nint o = 0; o < 4 * stride; o += 64) Engine.Prefetch.ToL2(ref Unsafe.As<byte, float>(ref Unsafe.Add(ref w0, PrefetchAhead + o)));
        return ref w0;
    }

    /// <summary>Q4_K weights (144-byte super-blocks) · Q8_K activations over <paramref name="blocks"/> super-blocks.</summary>
    public static float Q4_K(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int blocks)
    {
        if (weights.Length < blocks * Q4KBytes || activations.Length < blocks * Q8KBytes) throw new ArgumentException("Rows shorter than their blocks.");
        ref var w = ref MemoryMarshal.GetReference(weights);
        ref var x = ref MemoryMarshal.GetReference(activations);
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            ref var wb = ref Unsafe.Add(ref w, b * Q4KBytes);
            ref var xb = ref Unsafe.Add(ref x, b * Q8KBytes);
            var (scales, mins) = UnpackScalesAndMins(ref wb);
            var s = Avx2.IsSupported ? Vector256.Sum(IntegerQ4K(ref wb, ref xb, scales)) : ScalarQ4K(ref wb, ref xb, scales);
            var m = 0;
            for (var j = 0; j < 8; j++)
                m += (byte)(mins >> (8 * j)) * (Unsafe.ReadUnaligned<short>(ref Unsafe.Add(ref xb, Sums + 4 * j)) + Unsafe.ReadUnaligned<short>(ref Unsafe.Add(ref xb, Sums + 4 * j + 2)));
            var dx = Unsafe.ReadUnaligned<float>(ref xb);
            sum = MathF.FusedMultiplyAdd(s, Half(ref wb, 0) * dx, sum);
            sum = MathF.FusedMultiplyAdd(-(float)m, Half(ref wb, 2) * dx, sum);
        }
        return sum;
    }

    /// <summary>
    /// Rows <paramref name="row"/>..+3 of a Q4_K matrix at once, each exactly <see cref="Q4_K"/>'s arithmetic: the four
    /// rows' integer sums S_b and M_b gathered into vectors (the lanes are the rows), converted and added with vector
    /// fused multiply-adds, lane by lane the scalar chain.
    /// </summary>
    private static void Q4KFourRows(Models.WeightTensor w, int row, ref byte x, int blocks, Span<float> output)
    {
        ref var w0 = ref FourRows(w, row, out var stride);
        var sum = Vector128<float>.Zero;
        for (var b = 0; b < blocks; b++)
        {
            ref var wb = ref Unsafe.Add(ref w0, b * Q4KBytes);
            ref var xb = ref Unsafe.Add(ref x, b * Q8KBytes);
            // Sub-block j's activation sum, bsum[2j] + bsum[2j+1] (at most 2·16·127: exact in 16 bits), for j = 0..7.
            var bsums = Unsafe.ReadUnaligned<Vector256<short>>(ref Unsafe.Add(ref xb, Sums));
            var subSums = Ssse3.HorizontalAdd(bsums.GetLower(), bsums.GetUpper());
            ref var w1 = ref Unsafe.Add(ref wb, stride);
            ref var w2 = ref Unsafe.Add(ref wb, 2 * stride);
            ref var w3 = ref Unsafe.Add(ref wb, 3 * stride);
            var (s0, m0) = UnpackScalesAndMins(ref wb);
            var (s1, m1) = UnpackScalesAndMins(ref w1);
            var (s2, m2) = UnpackScalesAndMins(ref w2);
            var (s3, m3) = UnpackScalesAndMins(ref w3);
            var s = Sum4(IntegerQ4K(ref wb, ref xb, s0), IntegerQ4K(ref w1, ref xb, s1), IntegerQ4K(ref w2, ref xb, s2), IntegerQ4K(ref w3, ref xb, s3));
            var m = Sum4(MinimumSums(m0, subSums), MinimumSums(m1, subSums), MinimumSums(m2, subSums), MinimumSums(m3, subSums));
            var dx = Unsafe.ReadUnaligned<float>(ref xb);
            var d = Vector128.Create(Half(ref wb, 0), Half(ref w1, 0), Half(ref w2, 0), Half(ref w3, 0));
            var dmin = Vector128.Create(Half(ref wb, 2), Half(ref w1, 2), Half(ref w2, 2), Half(ref w3, 2));
            sum = Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(s), d * dx, sum);
            sum = Vector128.FusedMultiplyAdd(-Vector128.ConvertToSingle(m), dmin * dx, sum);
        }
        sum.CopyTo(output);
    }

    /// <summary>m_j · (sub-block j's activation sum) for j = 0..7, in 8 int32 lanes whose total is M_b (exact: at most 63·4064 each).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MinimumSums(ulong mins, Vector128<short> subSums) =>
        Vector256.Create(Sse2.MultiplyAddAdjacent(Sse41.ConvertToVector128Int16(Vector128.CreateScalar(mins).AsByte()), subSums), Vector128<int>.Zero);

    /// <summary>
    /// The eight 6-bit scales and eight minimums of a Q4_K super-block (its 12 bytes at offset 4), as eight bytes each
    /// (byte j: sub-block j): ggml's <c>get_scale_min_k4</c> for all eight at once, with the masks of its AVX kernels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (ulong Scales, ulong Mins) UnpackScalesAndMins(ref byte block)
    {
        const uint Low6 = 0x3f3f3f3f, Low4 = 0x0f0f0f0f, Low2 = 0x03030303;
        uint u0 = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref block, 4));
        uint u1 = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref block, 8));
        uint u2 = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref block, 12));
        // j < 4: scale q[j] & 63, minimum q[j+4] & 63; j ≥ 4: the low (scale) or high (minimum) nibble of q[j+4] with
        // the top two bits of q[j−4] (scale) or q[j] (minimum) above it.
        ulong scales = (u0 & Low6) | (ulong)((u2 & Low4) | (((u0 >> 6) & Low2) << 4)) << 32;
        ulong mins = (u1 & Low6) | (ulong)(((u2 >> 4) & Low4) | (((u1 >> 6) & Low2) << 4)) << 32;
        return (scales, mins);
    }

    private static float Half(ref byte block, int at) => (float)Unsafe.ReadUnaligned<Half>(ref Unsafe.Add(ref block, at));

    /// <summary>
    /// S_b of Q6_K in AVX2: 32 quants at a time (two sub-blocks) unpacked to unsigned 6-bit values q, multiplied by
    /// the activations and summed in pairs (VPMADDUBSW, at most 2·63·127), then multiplied by the two sub-blocks'
    /// scales and summed in pairs again (VPMADDWD): all within one sub-block, so exact. The 32 of q − 32 is taken off
    /// at the end from the activations' 16-value sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> IntegerQ6K(ref byte wb, ref byte xb)
    {
        var scales = Avx2.ConvertToVector256Int16(Unsafe.ReadUnaligned<Vector128<sbyte>>(ref Unsafe.Add(ref wb, 192)));
        // Int32 lanes holding a scale in both halves: [s0 s1 s2 s3 | s8 s9 s10 s11] and [s4 s5 s6 s7 | s12 s13 s14 s15].
        var low = Avx2.UnpackLow(scales, scales).AsInt32();
        var high = Avx2.UnpackHigh(scales, scales).AsInt32();
        var bsums = Unsafe.ReadUnaligned<Vector256<short>>(ref Unsafe.Add(ref xb, Sums));
        var acc = Vector256<int>.Zero - Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(scales, bsums), 5);
        var m4 = Vector256.Create((byte)0x0F);
        var m30 = Vector256.Create((byte)0x30);
        for (var n = 0; n < 2; n++)
        {
            ref var ql = ref Unsafe.Add(ref wb, 64 * n);
            var l0 = Unsafe.ReadUnaligned<Vector256<byte>>(ref ql);
            var l1 = Unsafe.ReadUnaligned<Vector256<byte>>(ref Unsafe.Add(ref ql, 32));
            var h = Unsafe.ReadUnaligned<Vector256<byte>>(ref Unsafe.Add(ref wb, 128 + 32 * n)).AsUInt16();
            var q0 = (l0 & m4) | (Avx2.ShiftLeftLogical(h, 4).AsByte() & m30);
            var q1 = (l1 & m4) | (Avx2.ShiftLeftLogical(h, 2).AsByte() & m30);
            var q2 = (Avx2.ShiftRightLogical(l0.AsUInt16(), 4).AsByte() & m4) | (h.AsByte() & m30);
            var q3 = (Avx2.ShiftRightLogical(l1.AsUInt16(), 4).AsByte() & m4) | (Avx2.ShiftRightLogical(h, 2).AsByte() & m30);
            ref var x8 = ref Unsafe.Add(ref xb, Quants + 128 * n);
            // Sub-blocks 8n + 0..7 in pairs: the scale of the first in the low 128 bits, of the second in the high.
            var (first, second) = n == 0 ? (FirstPair, SecondPair) : (ThirdPair, FourthPair);
            acc += Pair(q0, ref x8, Avx2.PermuteVar8x32(low, first));
            acc += Pair(q1, ref Unsafe.Add(ref x8, 32), Avx2.PermuteVar8x32(low, second));
            acc += Pair(q2, ref Unsafe.Add(ref x8, 64), Avx2.PermuteVar8x32(high, first));
            acc += Pair(q3, ref Unsafe.Add(ref x8, 96), Avx2.PermuteVar8x32(high, second));
        }
        return acc;
    }

    // Which int32 lanes of the unpacked scales hold a pair of sub-blocks' scales (the first four lanes, then the second).
    private static readonly Vector256<int> FirstPair = Vector256.Create(0, 0, 0, 0, 1, 1, 1, 1);
    private static readonly Vector256<int> SecondPair = Vector256.Create(2, 2, 2, 2, 3, 3, 3, 3);
    private static readonly Vector256<int> ThirdPair = Vector256.Create(4, 4, 4, 4, 5, 5, 5, 5);
    private static readonly Vector256<int> FourthPair = Vector256.Create(6, 6, 6, 6, 7, 7, 7, 7);

    /// <summary>The four rows' integer sums, each the exact total of its vector's lanes: [Σa0, Σa1, Σa2, Σa3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sum4(Vector256<int> a0, Vector256<int> a1, Vector256<int> a2, Vector256<int> a3)
    {
        var t = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a0, a1), Avx2.HorizontalAdd(a2, a3));
        return t.GetLower() + t.GetUpper();
    }

    /// <summary>Σ over 32 unsigned weights × signed activations, each pair of products times its lane's 16-bit scale, in 8 int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Pair(Vector256<byte> q, ref byte x, Vector256<int> scales) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, Unsafe.ReadUnaligned<Vector256<sbyte>>(ref x)), scales.AsInt16());

    /// <summary>
    /// S_b of Q4_K in AVX2, in 8 int32 lanes whose total is S_b: each 32 nibbles are one sub-block, multiplied as in
    /// <see cref="IntegerQ6K"/> (at most 2·15·127 per pair) by its scale (byte j of <paramref name="scales"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> IntegerQ4K(ref byte wb, ref byte xb, ulong scales)
    {
        var acc = Vector256<int>.Zero;
        var m4 = Vector256.Create((byte)0x0F);
        for (var j = 0; j < 4; j++)
        {
            var q = Unsafe.ReadUnaligned<Vector256<byte>>(ref Unsafe.Add(ref wb, 16 + 32 * j));
            ref var x8 = ref Unsafe.Add(ref xb, Quants + 64 * j);
            acc += Pair(q & m4, ref x8, Vector256.Create((int)(byte)(scales >> (16 * j)) * 0x10001));
            acc += Pair(Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4, ref Unsafe.Add(ref x8, 32), Vector256.Create((int)(byte)(scales >> (16 * j + 8)) * 0x10001));
        }
        return acc;
    }

    private static int ScalarQ6K(ref byte wb, ref byte xb)
    {
        var s = 0;
        for (var n = 0; n < 2; n++)
            for (var l = 0; l < 32; l++)
            {
                int ql0 = Unsafe.Add(ref wb, 64 * n + l), ql1 = Unsafe.Add(ref wb, 64 * n + l + 32), h = Unsafe.Add(ref wb, 128 + 32 * n + l);
                ReadOnlySpan<int> q = [(ql0 & 0xF) | ((h & 3) << 4), (ql1 & 0xF) | (((h >> 2) & 3) << 4), (ql0 >> 4) | (((h >> 4) & 3) << 4), (ql1 >> 4) | (((h >> 6) & 3) << 4)];
                for (var k = 0; k < 4; k++)
                {
                    var p = 128 * n + 32 * k + l;
                    s += (sbyte)Unsafe.Add(ref wb, 192 + p / 16) * (q[k] - 32) * (sbyte)Unsafe.Add(ref xb, Quants + p);
                }
            }
        return s;
    }

    private static int ScalarQ4K(ref byte wb, ref byte xb, ulong scales)
    {
        var s = 0;
        for (var j = 0; j < 4; j++)
        {
            int low = (byte)(scales >> (16 * j)), high = (byte)(scales >> (16 * j + 8));
            for (var l = 0; l < 32; l++)
            {
                int q = Unsafe.Add(ref wb, 16 + 32 * j + l);
                s += low * (q & 0xF) * (sbyte)Unsafe.Add(ref xb, Quants + 64 * j + l);
                s += high * (q >> 4) * (sbyte)Unsafe.Add(ref xb, Quants + 64 * j + 32 + l);
            }
        }
        return s;
    }
}
