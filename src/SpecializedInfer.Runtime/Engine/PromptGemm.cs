using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Numerics.Tensors;

namespace SpecializedInfer.Engine;

/// <summary>
/// The F32 prompt path's products as a classical GEMM in outer-product form: y[p, r] (+)= Σ_k W[r, k] · x[p, k] for a
/// chunk of positions p, lanes along the positions. The chunk's activation rows are transposed once
/// (<see cref="Transpose(ReadOnlySpan{float}, int, int, Span{float})"/>) into xT[k][p], padded with zeros to a multiple of <see cref="PositionGroup"/> positions;
/// then each weight W[r, k] (row-major, read where it lies: the file mapping or the aligned copy, no repacking) is
/// broadcast and multiplied into the positions' vectors. A Vector512 tile of 6 rows × up to 4 vectors of 16
/// positions keeps 24 accumulators, so every weight read feeds up to 64 positions and nothing is summed across lanes
/// (PromptGemm.Vector512.cs); AVX2 machines take 6 rows × 2 Vector256 (PromptGemm.Vector256.cs), others
/// System.Numerics.Vector. <see cref="MultiplySwiGlu"/> fuses the feed-forward's gate and up products with SwiGLU and
/// leaves its output transposed, the down projection's input.
/// <para>
/// Every output is one chain of fused multiply-adds over k = 0..cols−1 in order, starting from zero, computed by one
/// thread: its bits do not depend on the chunk's size or boundaries, the position's lane, the vector path or the
/// thread count. They differ from the decode kernels' (dot-product form, several chains folded), so a prompt fed
/// this way agrees with one-token-at-a-time decoding within rounding, not bit for bit (lossless verification keeps
/// the exact batched kernels).
/// </para>
/// </summary>
public static partial class PromptGemm
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

    /// <summary>The transposed input's row width for <paramref name="count"/> positions, after the check every entry point shares.</summary>
    private static int Width(int count) =>
        count is >= 1 and <= MaxPositions
            ? PaddedPositions(count)
            : throw new ArgumentException($"A prompt product takes 1 to {MaxPositions} positions, not {count}.");

    /// <summary>
    /// xT[k · PaddedPositions(count) + p] = rows[p · cols + k] for the <paramref name="count"/> rows of
    /// <paramref name="cols"/> floats; the padding positions are set to zero.
    /// </summary>
    /// <exception cref="ArgumentException">A count outside 1..<see cref="MaxPositions"/>, or a span too short for it.</exception>
    public static void Transpose(ReadOnlySpan<float> rows, int count, int cols, Span<float> transposed) =>
        Transpose(rows, count, cols, transposed, 0, count);

    /// <summary>
    /// <see cref="Transpose(ReadOnlySpan{float}, int, int, Span{float})"/> for positions <paramref name="from"/>..<paramref name="to"/>−1
    /// only (and the padding positions when the range ends at <paramref name="count"/>), so threads can share a
    /// transposition: ranges that start on a multiple of <see cref="PositionGroup"/> write disjoint cache lines.
    /// </summary>
    /// <exception cref="ArgumentException">A count outside 1..<see cref="MaxPositions"/>, a range outside 0..count, or a span too short for it.</exception>
    public static void Transpose(ReadOnlySpan<float> rows, int count, int cols, Span<float> transposed, int from, int to)
    {
        var ld = Width(count);
        if (cols < 1 || rows.Length < (long)count * cols || transposed.Length < (long)cols * ld)
            throw new ArgumentException($"Transposing {count} rows of {cols} floats needs {(long)count * cols} input and {(long)cols * ld} output floats; the spans hold {rows.Length} and {transposed.Length}.");
        if (from < 0 || to > count)
            throw new ArgumentException($"Positions {from} to {to} are not a range of the {count} positions.");
        if (from >= to) return; // a part with no positions (fewer groups than threads)
        ref var src = ref MemoryMarshal.GetReference(rows);
        ref var dst = ref MemoryMarshal.GetReference(transposed);
        var p = from;
        if (Avx.IsSupported)
            for (; p + 8 <= to; p += 8)
            {
                var k = 0;
                for (; k + 8 <= cols; k += 8) Transpose8x8(ref Unsafe.Add(ref src, (nint)p * cols + k), cols, ref Unsafe.Add(ref dst, (nint)k * ld + p), ld);
                for (; k < cols; k++)
                    for (var q = p; q < p + 8; q++) Unsafe.Add(ref dst, (nint)k * ld + q) = Unsafe.Add(ref src, (nint)q * cols + k);
            }
        // The positions left (all of them without AVX), in blocks of 16 columns: the 16 destination rows being written
        // stay in L1 while every position passes.
        for (var k0 = 0; k0 < cols && p < to; k0 += 16)
        {
            var k1 = Math.Min(cols, k0 + 16);
            for (var q = p; q < to; q++)
            {
                ref var row = ref Unsafe.Add(ref src, (nint)q * cols);
                for (var k = k0; k < k1; k++) Unsafe.Add(ref dst, (nint)k * ld + q) = Unsafe.Add(ref row, k);
            }
        }
        if (to == count)
            for (var k = 0; k < cols; k++)
                for (var q = count; q < ld; q++) Unsafe.Add(ref dst, (nint)k * ld + q) = 0f;
    }

    /// <summary>
    /// Eight rows of eight floats (source rows <paramref name="srcStride"/> apart) as eight columns: the usual AVX
    /// sequence of unpacks (pairs), shuffles (quads) and 128-bit lane permutes (halves).
    /// </summary>
    private static void Transpose8x8(ref float src, int srcStride, ref float dst, int dstStride)
    {
        var r0 = Vector256.LoadUnsafe(ref src);
        var r1 = Vector256.LoadUnsafe(ref src, (nuint)srcStride);
        var r2 = Vector256.LoadUnsafe(ref src, (nuint)(2 * srcStride));
        var r3 = Vector256.LoadUnsafe(ref src, (nuint)(3 * srcStride));
        var r4 = Vector256.LoadUnsafe(ref src, (nuint)(4 * srcStride));
        var r5 = Vector256.LoadUnsafe(ref src, (nuint)(5 * srcStride));
        var r6 = Vector256.LoadUnsafe(ref src, (nuint)(6 * srcStride));
        var r7 = Vector256.LoadUnsafe(ref src, (nuint)(7 * srcStride));
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(s0, s4, 0x20).StoreUnsafe(ref dst);
        Avx.Permute2x128(s1, s5, 0x20).StoreUnsafe(ref dst, (nuint)dstStride);
        Avx.Permute2x128(s2, s6, 0x20).StoreUnsafe(ref dst, (nuint)(2 * dstStride));
        Avx.Permute2x128(s3, s7, 0x20).StoreUnsafe(ref dst, (nuint)(3 * dstStride));
        Avx.Permute2x128(s0, s4, 0x31).StoreUnsafe(ref dst, (nuint)(4 * dstStride));
        Avx.Permute2x128(s1, s5, 0x31).StoreUnsafe(ref dst, (nuint)(5 * dstStride));
        Avx.Permute2x128(s2, s6, 0x31).StoreUnsafe(ref dst, (nuint)(6 * dstStride));
        Avx.Permute2x128(s3, s7, 0x31).StoreUnsafe(ref dst, (nuint)(7 * dstStride));
    }

    /// <summary>
    /// Rows <paramref name="from"/>..<paramref name="to"/>−1 of y[p · yStride + r] = Σ_k W[r · stride + k] · xT[k][p]
    /// (added to y's value when <paramref name="add"/>: the residual stream) for positions p &lt; <paramref name="count"/>.
    /// <paramref name="transposed"/> is <see cref="Transpose(ReadOnlySpan{float}, int, int, Span{float})"/>'s output for <paramref name="count"/> positions of
    /// <paramref name="cols"/> columns.
    /// </summary>
    /// <exception cref="ArgumentException">A count outside 1..<see cref="MaxPositions"/>, or a span too short for the shapes.</exception>
    public static void Multiply(ReadOnlySpan<float> w, int stride, int cols, ReadOnlySpan<float> transposed, int count,
        Span<float> y, int yStride, int from, int to, bool add)
    {
        if (from >= to) return;
        var ld = CheckProduct(w, stride, cols, transposed, count, from, to);
        if (y.Length < (long)(count - 1) * yStride + to || yStride < to)
            throw new ArgumentException($"Rows {from} to {to} of a {cols}-column product over {count} positions do not fit the spans given (weights {w.Length}, transposed input {transposed.Length}, output {y.Length} floats).");
        ref var wr = ref MemoryMarshal.GetReference(w);
        ref var xT = ref MemoryMarshal.GetReference(transposed);
        ref var yr = ref MemoryMarshal.GetReference(y);
        Span<float> panelBuffer = stackalloc float[PanelRows * MaxPositions + CacheLine.Slack];
        ref var panel = ref CacheLine.Align(panelBuffer, PanelRows * MaxPositions);
        for (var p0 = from; p0 < to; p0 += PanelRows)
        {
            var p1 = Math.Min(to, p0 + PanelRows);
            Panel(ref wr, stride, cols, ref xT, ld, p0, p1, ref panel);
            WriteOut(ref panel, ld, p1 - p0, count, ref Unsafe.Add(ref yr, p0), yStride, add);
        }
    }

    /// <summary>
    /// The feed-forward's gate and up products fused with SwiGLU, written transposed for the down projection:
    /// hT[r · PaddedPositions(count) + p] = silu(G[r]·x[p]) · (U[r]·x[p]) for rows <paramref name="from"/>..<paramref name="to"/>−1
    /// and every padded position (the padding's inputs are zero, so its outputs are silu(0) · 0 = 0). Each product is
    /// <see cref="Multiply"/>'s chain; SwiGLU runs in the reference's order (up ← up·gate; gate ← σ(gate); gate ←
    /// gate·up) on whole vectors of positions, so a row's gate and up must be computed by the same thread, and the
    /// down projection needs no transposition of its input.
    /// </summary>
    /// <exception cref="ArgumentException">A count outside 1..<see cref="MaxPositions"/>, or a span too short for the shapes.</exception>
    public static void MultiplySwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, int stride, int cols, ReadOnlySpan<float> transposed, int count,
        Span<float> hidden, int from, int to)
    {
        if (from >= to) return;
        var ld = CheckProduct(gate, stride, cols, transposed, count, from, to);
        CheckProduct(up, stride, cols, transposed, count, from, to);
        if (hidden.Length < (long)to * ld)
            throw new ArgumentException($"Rows {from} to {to} of a fused gate and up product over {count} positions need {(long)to * ld} floats of transposed output; the span holds {hidden.Length}.");
        ref var gr = ref MemoryMarshal.GetReference(gate);
        ref var ur = ref MemoryMarshal.GetReference(up);
        ref var xT = ref MemoryMarshal.GetReference(transposed);
        Span<float> upBuffer = stackalloc float[PanelRows * MaxPositions + CacheLine.Slack];
        ref var upPanel = ref CacheLine.Align(upBuffer, PanelRows * MaxPositions);
        for (var p0 = from; p0 < to; p0 += PanelRows)
        {
            var p1 = Math.Min(to, p0 + PanelRows);
            var g = hidden.Slice(p0 * ld, (p1 - p0) * ld); // the gate's sums land where the hidden rows go
            Panel(ref gr, stride, cols, ref xT, ld, p0, p1, ref MemoryMarshal.GetReference(g));
            Panel(ref ur, stride, cols, ref xT, ld, p0, p1, ref upPanel);
            var u = MemoryMarshal.CreateSpan(ref upPanel, g.Length);
            TensorPrimitives.Multiply(u, g, u);
            TensorPrimitives.Sigmoid(g, g);
            TensorPrimitives.Multiply(g, u, g);
        }
    }

    /// <summary>The checks every product shares; returns the transposed input's row width.</summary>
    private static int CheckProduct(ReadOnlySpan<float> w, int stride, int cols, ReadOnlySpan<float> transposed, int count, int from, int to)
    {
        var ld = Width(count);
        if (from < 0 || cols < 1 || stride < cols || w.Length < (long)(to - 1) * stride + cols || transposed.Length < (long)cols * ld)
            throw new ArgumentException($"Rows {from} to {to} of a {cols}-column product over {count} positions do not fit the spans given (weights {w.Length}, transposed input {transposed.Length} floats).");
        return ld;
    }

    /// <summary>
    /// Rows <paramref name="from"/>..<paramref name="to"/>−1 of the product, transposed: panel[(r − from) · ld + p]
    /// for every padded position p &lt; ld, on the widest vector path the machine accelerates.
    /// </summary>
    private static void Panel(ref float w, int stride, int cols, ref float xT, int ld, int from, int to, ref float panel)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            switch (ld / PositionGroup)
            {
                case 1: WidePanel<One>(ref w, stride, cols, ref xT, from, to, ref panel); break;
                case 2: WidePanel<Two>(ref w, stride, cols, ref xT, from, to, ref panel); break;
                case 3: WidePanel<Three>(ref w, stride, cols, ref xT, from, to, ref panel); break;
                default: WidePanel<Four>(ref w, stride, cols, ref xT, from, to, ref panel); break;
            }
        }
        else if (Vector256.IsHardwareAccelerated) Panel256(ref w, stride, cols, ref xT, ld, from, to, ref panel);
        else PortablePanel(ref w, stride, cols, ref xT, ld, from, to, ref panel);
    }

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
    /// Machines without Vector256 (Vector128, or none accelerated): System.Numerics.Vector, one row × one vector of
    /// positions over the whole k range. The same chains, so the same bits as the vector paths
    /// (Vector.FusedMultiplyAdd is fused in software too).
    /// </summary>
    private static void PortablePanel(ref float w, int stride, int cols, ref float xT, int ld, int from, int to, ref float panel)
    {
        var lanes = Vector<float>.Count;
        for (var r = from; r < to; r++)
        {
            ref var wr = ref Unsafe.Add(ref w, (nint)r * stride);
            ref var row = ref Unsafe.Add(ref panel, (nint)(r - from) * ld);
            for (var g = 0; g < ld; g += lanes)
            {
                var a = Vector<float>.Zero;
                for (nint k = 0; k < cols; k++)
                    a = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref wr, k)), Vector.LoadUnsafe(ref Unsafe.Add(ref xT, k * ld + g)), a);
                a.StoreUnsafe(ref row, (nuint)g);
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
