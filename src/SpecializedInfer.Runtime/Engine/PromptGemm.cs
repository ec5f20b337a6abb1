using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SpecializedInfer.Engine;

/// <summary>
/// The F32 prompt path's products as a classical GEMM in outer-product form: y[p, r] (+)= Σ_k W[r, k] · x[p, k] for a
/// chunk of positions p, lanes along the positions. The chunk's activation rows are transposed once
/// (<see cref="Transpose"/>) into xT[k][p], padded with zeros to a multiple of <see cref="PositionGroup"/> positions;
/// then each weight W[r, k] (row-major, read where it lies: the file mapping or the aligned copy, no repacking) is
/// broadcast and multiplied into the positions' vectors. A Vector512 tile of 6 rows × up to 4 vectors of 16
/// positions keeps 24 accumulators, so every weight read feeds up to 64 positions and nothing is summed across lanes.
/// <para>
/// Every output is one chain of fused multiply-adds over k = 0..cols−1 in order, starting from zero, computed by one
/// thread: its bits do not depend on the chunk's size or boundaries, the position's lane, the vector path or the
/// thread count. They differ from the decode kernels' (dot-product form, several chains folded), so a prompt fed
/// this way agrees with one-token-at-a-time decoding within rounding, not bit for bit (lossless verification keeps
/// the exact batched kernels).
/// </para>
/// </summary>
public static class PromptGemm
{
    /// <summary>Transposed rows are padded with zeros to a multiple of this many positions (one Vector512).</summary>
    public const int PositionGroup = 16;

    /// <summary>The most positions one product takes (a prompt chunk).</summary>
    public const int MaxPositions = 64;

    /// <summary>Rows of a Vector512 tile: 6 rows × 4 position vectors = 24 accumulators of the 32 zmm registers.</summary>
    private const int TileRows = 6;

    /// <summary>Rows whose partial sums stay in the panel buffer (12 KiB at 64 positions) while the k blocks pass.</summary>
    private const int PanelRows = 8 * TileRows;

    /// <summary>Columns per k block: 128 × 64 positions of xT (32 KiB) stay in L1 while the panel's tiles read them.</summary>
    private const int KBlock = 128;

    /// <summary>Positions <paramref name="count"/> rounded up to whole groups: the row width of the transposed input.</summary>
    public static int PaddedPositions(int count) => (count + PositionGroup - 1) & -PositionGroup;

    /// <summary>
    /// xT[k · PaddedPositions(count) + p] = rows[p · cols + k] for the <paramref name="count"/> rows of
    /// <paramref name="cols"/> floats; the padding positions are set to zero.
    /// </summary>
    /// <exception cref="ArgumentException">A count outside 1..<see cref="MaxPositions"/>, or a span too short for it.</exception>
    public static void Transpose(ReadOnlySpan<float> rows, int count, int cols, Span<float> transposed)
    {
        if (count < 1 || count > MaxPositions) throw new ArgumentException($"A prompt product takes 1 to {MaxPositions} positions, not {count}.");
        var ld = PaddedPositions(count);
        if (cols < 1 || rows.Length < (long)count * cols || transposed.Length < (long)cols * ld)
            throw new ArgumentException($"Transposing {count} rows of {cols} floats needs {(long)count * cols} input and {(long)cols * ld} output floats; the spans hold {rows.Length} and {transposed.Length}.");
        ref var src = ref MemoryMarshal.GetReference(rows);
        ref var dst = ref MemoryMarshal.GetReference(transposed);
        // Blocks of 16 columns: the 16 destination rows being written stay in L1 while every position passes.
        for (var k0 = 0; k0 < cols; k0 += 16)
        {
            var k1 = Math.Min(cols, k0 + 16);
            for (var p = 0; p < count; p++)
            {
                ref var row = ref Unsafe.Add(ref src, (nint)p * cols);
                for (var k = k0; k < k1; k++) Unsafe.Add(ref dst, (nint)k * ld + p) = Unsafe.Add(ref row, k);
            }
            for (var k = k0; k < k1; k++)
                for (var p = count; p < ld; p++) Unsafe.Add(ref dst, (nint)k * ld + p) = 0f;
        }
    }

    /// <summary>
    /// Rows <paramref name="from"/>..<paramref name="to"/>−1 of y[p · yStride + r] = Σ_k W[r · stride + k] · xT[k][p]
    /// (added to y's value when <paramref name="add"/>: the residual stream) for positions p &lt; <paramref name="count"/>.
    /// <paramref name="transposed"/> is <see cref="Transpose"/>'s output for <paramref name="count"/> positions of
    /// <paramref name="cols"/> columns.
    /// </summary>
    /// <exception cref="ArgumentException">A count outside 1..<see cref="MaxPositions"/>, or a span too short for the shapes.</exception>
    public static void Multiply(ReadOnlySpan<float> w, int stride, int cols, ReadOnlySpan<float> transposed, int count,
        Span<float> y, int yStride, int from, int to, bool add)
    {
        if (from >= to) return;
        if (count < 1 || count > MaxPositions) throw new ArgumentException($"A prompt product takes 1 to {MaxPositions} positions, not {count}.");
        var ld = PaddedPositions(count);
        if (from < 0 || cols < 1 || stride < cols || w.Length < (long)(to - 1) * stride + cols || transposed.Length < (long)cols * ld
            || y.Length < (long)(count - 1) * yStride + to || yStride < to)
            throw new ArgumentException($"Rows {from} to {to} of a {cols}-column product over {count} positions do not fit the spans given (weights {w.Length}, transposed input {transposed.Length}, output {y.Length} floats).");
        ref var wr = ref MemoryMarshal.GetReference(w);
        ref var xT = ref MemoryMarshal.GetReference(transposed);
        ref var yr = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
        {
            switch (ld / PositionGroup)
            {
                case 1: Wide<One>(ref wr, stride, cols, ref xT, count, ref yr, yStride, from, to, add); break;
                case 2: Wide<Two>(ref wr, stride, cols, ref xT, count, ref yr, yStride, from, to, add); break;
                case 3: Wide<Three>(ref wr, stride, cols, ref xT, count, ref yr, yStride, from, to, add); break;
                default: Wide<Four>(ref wr, stride, cols, ref xT, count, ref yr, yStride, from, to, add); break;
            }
        }
        else Portable(ref wr, stride, cols, ref xT, count, ref yr, yStride, from, to, add);
    }

    /// <summary>The Vector512 path: panels of rows, each over k blocks, each block's tiles of 6 rows then single rows.</summary>
    private static void Wide<TVectors>(ref float w, int stride, int cols, ref float xT, int count, ref float y, int yStride, int from, int to, bool add)
        where TVectors : struct, IVectorCount
    {
        var ld = TVectors.Count * PositionGroup;
        Span<float> panelBuffer = stackalloc float[PanelRows * MaxPositions + CacheLine.Slack];
        ref var panel = ref CacheLine.Align(panelBuffer, PanelRows * MaxPositions);
        for (var p0 = from; p0 < to; p0 += PanelRows)
        {
            var p1 = Math.Min(to, p0 + PanelRows);
            for (var k0 = 0; k0 < cols; k0 += KBlock)
            {
                var k1 = Math.Min(cols, k0 + KBlock);
                var r = p0;
                for (; r + TileRows <= p1; r += TileRows)
                    WideTile<TVectors>(ref Unsafe.Add(ref w, (nint)r * stride), stride, ref xT, k0, k1, ref Unsafe.Add(ref panel, (r - p0) * ld));
                for (; r < p1; r++)
                    WideRow<TVectors>(ref Unsafe.Add(ref w, (nint)r * stride), ref xT, k0, k1, ref Unsafe.Add(ref panel, (r - p0) * ld));
            }
            WriteOut(ref panel, ld, p1 - p0, count, ref Unsafe.Add(ref y, p0), yStride, add);
        }
    }

    /// <summary>
    /// Six rows × TVectors vectors of 16 positions over columns k0..k1−1: partial sums from the panel (zero at k0 = 0),
    /// then per column one broadcast weight per row and one FMA per (row, vector), then back to the panel.
    /// </summary>
    private static void WideTile<TVectors>(ref float w, nint stride, ref float xT, int k0, int k1, ref float acc)
        where TVectors : struct, IVectorCount
    {
        var n = TVectors.Count;
        nint ld = n * PositionGroup;
        Vector512<float> a00, a01 = default, a02 = default, a03 = default, a10, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20, a21 = default, a22 = default, a23 = default, a30, a31 = default, a32 = default, a33 = default;
        Vector512<float> a40, a41 = default, a42 = default, a43 = default, a50, a51 = default, a52 = default, a53 = default;
        if (k0 == 0)
        {
            a00 = a10 = a20 = a30 = a40 = a50 = Vector512<float>.Zero;
            if (n > 1) a01 = a11 = a21 = a31 = a41 = a51 = Vector512<float>.Zero;
            if (n > 2) a02 = a12 = a22 = a32 = a42 = a52 = Vector512<float>.Zero;
            if (n > 3) a03 = a13 = a23 = a33 = a43 = a53 = Vector512<float>.Zero;
        }
        else
        {
            a00 = Load(ref acc, 0, 0); a10 = Load(ref acc, ld, 0); a20 = Load(ref acc, 2 * ld, 0);
            a30 = Load(ref acc, 3 * ld, 0); a40 = Load(ref acc, 4 * ld, 0); a50 = Load(ref acc, 5 * ld, 0);
            if (n > 1)
            {
                a01 = Load(ref acc, 0, 1); a11 = Load(ref acc, ld, 1); a21 = Load(ref acc, 2 * ld, 1);
                a31 = Load(ref acc, 3 * ld, 1); a41 = Load(ref acc, 4 * ld, 1); a51 = Load(ref acc, 5 * ld, 1);
            }
            if (n > 2)
            {
                a02 = Load(ref acc, 0, 2); a12 = Load(ref acc, ld, 2); a22 = Load(ref acc, 2 * ld, 2);
                a32 = Load(ref acc, 3 * ld, 2); a42 = Load(ref acc, 4 * ld, 2); a52 = Load(ref acc, 5 * ld, 2);
            }
            if (n > 3)
            {
                a03 = Load(ref acc, 0, 3); a13 = Load(ref acc, ld, 3); a23 = Load(ref acc, 2 * ld, 3);
                a33 = Load(ref acc, 3 * ld, 3); a43 = Load(ref acc, 4 * ld, 3); a53 = Load(ref acc, 5 * ld, 3);
            }
        }
        ref var w0 = ref w;
        ref var w1 = ref Unsafe.Add(ref w, stride);
        ref var w2 = ref Unsafe.Add(ref w, 2 * stride);
        ref var w3 = ref Unsafe.Add(ref w, 3 * stride);
        ref var w4 = ref Unsafe.Add(ref w, 4 * stride);
        ref var w5 = ref Unsafe.Add(ref w, 5 * stride);
        for (nint k = k0; k < k1; k++)
        {
            ref var xk = ref Unsafe.Add(ref xT, k * ld);
            var x0 = Vector512.LoadUnsafe(ref xk);
            var x1 = n > 1 ? Vector512.LoadUnsafe(ref xk, 16) : default;
            var x2 = n > 2 ? Vector512.LoadUnsafe(ref xk, 32) : default;
            var x3 = n > 3 ? Vector512.LoadUnsafe(ref xk, 48) : default;
            var b = Vector512.Create(Unsafe.Add(ref w0, k));
            a00 = Vector512.FusedMultiplyAdd(b, x0, a00);
            if (n > 1) a01 = Vector512.FusedMultiplyAdd(b, x1, a01);
            if (n > 2) a02 = Vector512.FusedMultiplyAdd(b, x2, a02);
            if (n > 3) a03 = Vector512.FusedMultiplyAdd(b, x3, a03);
            b = Vector512.Create(Unsafe.Add(ref w1, k));
            a10 = Vector512.FusedMultiplyAdd(b, x0, a10);
            if (n > 1) a11 = Vector512.FusedMultiplyAdd(b, x1, a11);
            if (n > 2) a12 = Vector512.FusedMultiplyAdd(b, x2, a12);
            if (n > 3) a13 = Vector512.FusedMultiplyAdd(b, x3, a13);
            b = Vector512.Create(Unsafe.Add(ref w2, k));
            a20 = Vector512.FusedMultiplyAdd(b, x0, a20);
            if (n > 1) a21 = Vector512.FusedMultiplyAdd(b, x1, a21);
            if (n > 2) a22 = Vector512.FusedMultiplyAdd(b, x2, a22);
            if (n > 3) a23 = Vector512.FusedMultiplyAdd(b, x3, a23);
            b = Vector512.Create(Unsafe.Add(ref w3, k));
            a30 = Vector512.FusedMultiplyAdd(b, x0, a30);
            if (n > 1) a31 = Vector512.FusedMultiplyAdd(b, x1, a31);
            if (n > 2) a32 = Vector512.FusedMultiplyAdd(b, x2, a32);
            if (n > 3) a33 = Vector512.FusedMultiplyAdd(b, x3, a33);
            b = Vector512.Create(Unsafe.Add(ref w4, k));
            a40 = Vector512.FusedMultiplyAdd(b, x0, a40);
            if (n > 1) a41 = Vector512.FusedMultiplyAdd(b, x1, a41);
            if (n > 2) a42 = Vector512.FusedMultiplyAdd(b, x2, a42);
            if (n > 3) a43 = Vector512.FusedMultiplyAdd(b, x3, a43);
            b = Vector512.Create(Unsafe.Add(ref w5, k));
            a50 = Vector512.FusedMultiplyAdd(b, x0, a50);
            if (n > 1) a51 = Vector512.FusedMultiplyAdd(b, x1, a51);
            if (n > 2) a52 = Vector512.FusedMultiplyAdd(b, x2, a52);
            if (n > 3) a53 = Vector512.FusedMultiplyAdd(b, x3, a53);
        }
        Store(a00, ref acc, 0, 0); Store(a10, ref acc, ld, 0); Store(a20, ref acc, 2 * ld, 0);
        Store(a30, ref acc, 3 * ld, 0); Store(a40, ref acc, 4 * ld, 0); Store(a50, ref acc, 5 * ld, 0);
        if (n > 1)
        {
            Store(a01, ref acc, 0, 1); Store(a11, ref acc, ld, 1); Store(a21, ref acc, 2 * ld, 1);
            Store(a31, ref acc, 3 * ld, 1); Store(a41, ref acc, 4 * ld, 1); Store(a51, ref acc, 5 * ld, 1);
        }
        if (n > 2)
        {
            Store(a02, ref acc, 0, 2); Store(a12, ref acc, ld, 2); Store(a22, ref acc, 2 * ld, 2);
            Store(a32, ref acc, 3 * ld, 2); Store(a42, ref acc, 4 * ld, 2); Store(a52, ref acc, 5 * ld, 2);
        }
        if (n > 3)
        {
            Store(a03, ref acc, 0, 3); Store(a13, ref acc, ld, 3); Store(a23, ref acc, 2 * ld, 3);
            Store(a33, ref acc, 3 * ld, 3); Store(a43, ref acc, 4 * ld, 3); Store(a53, ref acc, 5 * ld, 3);
        }
    }

    /// <summary>One row (the rows past the last whole tile of a panel) the same way: the same chain per output.</summary>
    private static void WideRow<TVectors>(ref float w, ref float xT, int k0, int k1, ref float acc)
        where TVectors : struct, IVectorCount
    {
        var n = TVectors.Count;
        nint ld = n * PositionGroup;
        var first = k0 == 0;
        var a0 = first ? Vector512<float>.Zero : Load(ref acc, 0, 0);
        var a1 = n > 1 && !first ? Load(ref acc, 0, 1) : Vector512<float>.Zero;
        var a2 = n > 2 && !first ? Load(ref acc, 0, 2) : Vector512<float>.Zero;
        var a3 = n > 3 && !first ? Load(ref acc, 0, 3) : Vector512<float>.Zero;
        for (nint k = k0; k < k1; k++)
        {
            ref var xk = ref Unsafe.Add(ref xT, k * ld);
            var b = Vector512.Create(Unsafe.Add(ref w, k));
            a0 = Vector512.FusedMultiplyAdd(b, Vector512.LoadUnsafe(ref xk), a0);
            if (n > 1) a1 = Vector512.FusedMultiplyAdd(b, Vector512.LoadUnsafe(ref xk, 16), a1);
            if (n > 2) a2 = Vector512.FusedMultiplyAdd(b, Vector512.LoadUnsafe(ref xk, 32), a2);
            if (n > 3) a3 = Vector512.FusedMultiplyAdd(b, Vector512.LoadUnsafe(ref xk, 48), a3);
        }
        Store(a0, ref acc, 0, 0);
        if (n > 1) Store(a1, ref acc, 0, 1);
        if (n > 2) Store(a2, ref acc, 0, 2);
        if (n > 3) Store(a3, ref acc, 0, 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Load(ref float acc, nint row, nuint vector) => Vector512.LoadUnsafe(ref Unsafe.Add(ref acc, row), vector * PositionGroup);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> value, ref float acc, nint row, nuint vector) => value.StoreUnsafe(ref Unsafe.Add(ref acc, row), vector * PositionGroup);

    /// <summary>
    /// A panel's finished sums (row i at panel[i · ld], lanes = positions) into the output rows, transposed back:
    /// y[p · yStride + i] (+)= panel[i · ld + p]; each position's stores are contiguous.
    /// </summary>
    private static void WriteOut(ref float panel, int ld, int rows, int count, ref float y, int yStride, bool add)
    {
        for (var p = 0; p < count; p++)
        {
            ref var yp = ref Unsafe.Add(ref y, (nint)p * yStride);
            if (add)
                for (var i = 0; i < rows; i++) Unsafe.Add(ref yp, i) += Unsafe.Add(ref panel, i * ld + p);
            else
                for (var i = 0; i < rows; i++) Unsafe.Add(ref yp, i) = Unsafe.Add(ref panel, i * ld + p);
        }
    }

    /// <summary>
    /// Every other machine (Vector256, Vector128, or none accelerated): System.Numerics.Vector over groups of
    /// Vector&lt;float&gt;.Count positions, 4 rows at a time over the whole k range, then single rows. The same chains,
    /// so the same bits as the Vector512 path (Vector.FusedMultiplyAdd is fused in software too).
    /// </summary>
    private static void Portable(ref float w, int stride, int cols, ref float xT, int count, ref float y, int yStride, int from, int to, bool add)
    {
        var lanes = Vector<float>.Count;
        var ld = PaddedPositions(count);
        Span<float> sums = stackalloc float[4 * 16];
        for (var g = 0; g < count; g += lanes)
        {
            var r = from;
            for (; r + 4 <= to; r += 4)
            {
                ref var w0 = ref Unsafe.Add(ref w, (nint)r * stride);
                ref var w1 = ref Unsafe.Add(ref w0, stride);
                ref var w2 = ref Unsafe.Add(ref w1, stride);
                ref var w3 = ref Unsafe.Add(ref w2, stride);
                Vector<float> a0 = Vector<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                for (nint k = 0; k < cols; k++)
                {
                    var x = Vector.LoadUnsafe(ref Unsafe.Add(ref xT, k * ld + g));
                    a0 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref w0, k)), x, a0);
                    a1 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref w1, k)), x, a1);
                    a2 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref w2, k)), x, a2);
                    a3 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref w3, k)), x, a3);
                }
                a0.CopyTo(sums);
                a1.CopyTo(sums.Slice(16));
                a2.CopyTo(sums.Slice(32));
                a3.CopyTo(sums.Slice(48));
                WriteOut(ref MemoryMarshal.GetReference(sums), 16, 4, Math.Min(lanes, count - g), ref Unsafe.Add(ref y, (nint)g * yStride + r), yStride, add);
            }
            for (; r < to; r++)
            {
                ref var wr = ref Unsafe.Add(ref w, (nint)r * stride);
                var a = Vector<float>.Zero;
                for (nint k = 0; k < cols; k++)
                    a = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref wr, k)), Vector.LoadUnsafe(ref Unsafe.Add(ref xT, k * ld + g)), a);
                a.CopyTo(sums);
                WriteOut(ref MemoryMarshal.GetReference(sums), 16, 1, Math.Min(lanes, count - g), ref Unsafe.Add(ref y, (nint)g * yStride + r), yStride, add);
            }
        }
    }

    /// <summary>Position vectors per tile as a type, so each count gets its own compiled tile with the unused accumulators gone.</summary>
    private interface IVectorCount
    {
        static abstract int Count { get; }
    }

    private readonly struct One : IVectorCount { public static int Count => 1; }

    private readonly struct Two : IVectorCount { public static int Count => 2; }

    private readonly struct Three : IVectorCount { public static int Count => 3; }

    private readonly struct Four : IVectorCount { public static int Count => 4; }
}
