using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SpecializedInfer.Engine;

/// <summary>The prompt GEMM's Vector512 tile (AVX-512 machines).</summary>
public static partial class PromptGemm
{
    /// <summary>
    /// The Vector512 path of <see cref="Panel"/>: rows <paramref name="from"/>..<paramref name="to"/>−1 over k blocks,
    /// each block's tiles of 6 rows then single rows, TVectors vectors of 16 positions each.
    /// </summary>
    private static void WidePanel<TVectors>(ref float w, int stride, int cols, ref float xT, int from, int to, ref float panel)
        where TVectors : struct, IVectorCount
    {
        var ld = TVectors.Count * PositionGroup;
        for (var k0 = 0; k0 < cols; k0 += KBlock)
        {
            var k1 = Math.Min(cols, k0 + KBlock);
            var r = from;
            for (; r + TileRows <= to; r += TileRows)
                WideTile<TVectors>(ref Unsafe.Add(ref w, (nint)r * stride), stride, ref xT, k0, k1, ref Unsafe.Add(ref panel, (r - from) * ld));
            for (; r < to; r++)
                WideRow<TVectors>(ref Unsafe.Add(ref w, (nint)r * stride), ref xT, k0, k1, ref Unsafe.Add(ref panel, (r - from) * ld));
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
}
