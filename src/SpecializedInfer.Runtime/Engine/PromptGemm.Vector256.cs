using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SpecializedInfer.Engine;

/// <summary>
/// The prompt GEMM's Vector256 tile (AVX2 machines without AVX-512): 6 rows × 2 vectors of 8 positions, 12
/// accumulators, the two position vectors and the broadcast weight: 15 of the 16 ymm registers. Each broadcast weight
/// feeds 2 FMAs and each position vector 6, so a column's 12 FMAs need 8 loads (within two load ports' reach) and
/// the 12 independent chains cover the FMA latency (4-5 cycles × 2 ports).
/// </summary>
public static partial class PromptGemm
{
    /// <summary>Positions per Vector256 tile: two vectors of 8.</summary>
    private const int NarrowGroup = 16;

    /// <summary>
    /// The Vector256 path of <see cref="Panel"/>: per k block, per group of 16 positions, the rows' tiles of 6 then
    /// single rows; partial sums wait in the panel between k blocks (as on the Vector512 path).
    /// </summary>
    private static void Panel256(ref float w, int stride, int cols, ref float xT, int ld, int from, int to, ref float panel)
    {
        for (var k0 = 0; k0 < cols; k0 += KBlock)
        {
            var k1 = Math.Min(cols, k0 + KBlock);
            for (var g = 0; g < ld; g += NarrowGroup)
            {
                ref var xg = ref Unsafe.Add(ref xT, g);
                var r = from;
                for (; r + TileRows <= to; r += TileRows)
                    NarrowTile(ref Unsafe.Add(ref w, (nint)r * stride), stride, ref xg, ld, k0, k1, ref Unsafe.Add(ref panel, (r - from) * ld + g), ld);
                for (; r < to; r++)
                    NarrowRow(ref Unsafe.Add(ref w, (nint)r * stride), ref xg, ld, k0, k1, ref Unsafe.Add(ref panel, (r - from) * ld + g));
            }
        }
    }

    /// <summary>Six rows × 16 positions over columns k0..k1−1: partial sums from the panel (zero at k0 = 0), one FMA per (row, vector) per column.</summary>
    private static void NarrowTile(ref float w, nint stride, ref float xT, nint ld, int k0, int k1, ref float acc, nint accStride)
    {
        Vector256<float> a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51;
        if (k0 == 0) a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = a40 = a41 = a50 = a51 = Vector256<float>.Zero;
        else
        {
            a00 = Vector256.LoadUnsafe(ref acc); a01 = Vector256.LoadUnsafe(ref acc, 8);
            a10 = Vector256.LoadUnsafe(ref acc, (nuint)accStride); a11 = Vector256.LoadUnsafe(ref acc, (nuint)accStride + 8);
            a20 = Vector256.LoadUnsafe(ref acc, (nuint)(2 * accStride)); a21 = Vector256.LoadUnsafe(ref acc, (nuint)(2 * accStride) + 8);
            a30 = Vector256.LoadUnsafe(ref acc, (nuint)(3 * accStride)); a31 = Vector256.LoadUnsafe(ref acc, (nuint)(3 * accStride) + 8);
            a40 = Vector256.LoadUnsafe(ref acc, (nuint)(4 * accStride)); a41 = Vector256.LoadUnsafe(ref acc, (nuint)(4 * accStride) + 8);
            a50 = Vector256.LoadUnsafe(ref acc, (nuint)(5 * accStride)); a51 = Vector256.LoadUnsafe(ref acc, (nuint)(5 * accStride) + 8);
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
            var x0 = Vector256.LoadUnsafe(ref xk);
            var x1 = Vector256.LoadUnsafe(ref xk, 8);
            var b = Vector256.Create(Unsafe.Add(ref w0, k));
            a00 = Vector256.FusedMultiplyAdd(b, x0, a00);
            a01 = Vector256.FusedMultiplyAdd(b, x1, a01);
            b = Vector256.Create(Unsafe.Add(ref w1, k));
            a10 = Vector256.FusedMultiplyAdd(b, x0, a10);
            a11 = Vector256.FusedMultiplyAdd(b, x1, a11);
            b = Vector256.Create(Unsafe.Add(ref w2, k));
            a20 = Vector256.FusedMultiplyAdd(b, x0, a20);
            a21 = Vector256.FusedMultiplyAdd(b, x1, a21);
            b = Vector256.Create(Unsafe.Add(ref w3, k));
            a30 = Vector256.FusedMultiplyAdd(b, x0, a30);
            a31 = Vector256.FusedMultiplyAdd(b, x1, a31);
            b = Vector256.Create(Unsafe.Add(ref w4, k));
            a40 = Vector256.FusedMultiplyAdd(b, x0, a40);
            a41 = Vector256.FusedMultiplyAdd(b, x1, a41);
            b = Vector256.Create(Unsafe.Add(ref w5, k));
            a50 = Vector256.FusedMultiplyAdd(b, x0, a50);
            a51 = Vector256.FusedMultiplyAdd(b, x1, a51);
        }
        a00.StoreUnsafe(ref acc); a01.StoreUnsafe(ref acc, 8);
        a10.StoreUnsafe(ref acc, (nuint)accStride); a11.StoreUnsafe(ref acc, (nuint)accStride + 8);
        a20.StoreUnsafe(ref acc, (nuint)(2 * accStride)); a21.StoreUnsafe(ref acc, (nuint)(2 * accStride) + 8);
        a30.StoreUnsafe(ref acc, (nuint)(3 * accStride)); a31.StoreUnsafe(ref acc, (nuint)(3 * accStride) + 8);
        a40.StoreUnsafe(ref acc, (nuint)(4 * accStride)); a41.StoreUnsafe(ref acc, (nuint)(4 * accStride) + 8);
        a50.StoreUnsafe(ref acc, (nuint)(5 * accStride)); a51.StoreUnsafe(ref acc, (nuint)(5 * accStride) + 8);
    }

    /// <summary>One row × 16 positions the same way (the rows past the last whole tile).</summary>
    private static void NarrowRow(ref float w, ref float xT, nint ld, int k0, int k1, ref float acc)
    {
        var a0 = k0 == 0 ? Vector256<float>.Zero : Vector256.LoadUnsafe(ref acc);
        var a1 = k0 == 0 ? Vector256<float>.Zero : Vector256.LoadUnsafe(ref acc, 8);
        for (nint k = k0; k < k1; k++)
        {
            ref var xk = ref Unsafe.Add(ref xT, k * ld);
            var b = Vector256.Create(Unsafe.Add(ref w, k));
            a0 = Vector256.FusedMultiplyAdd(b, Vector256.LoadUnsafe(ref xk), a0);
            a1 = Vector256.FusedMultiplyAdd(b, Vector256.LoadUnsafe(ref xk, 8), a1);
        }
        a0.StoreUnsafe(ref acc);
        a1.StoreUnsafe(ref acc, 8);
    }
}
