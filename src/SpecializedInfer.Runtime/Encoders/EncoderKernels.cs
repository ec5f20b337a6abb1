using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SpecializedInfer.Encoders;

/// <summary>
/// The encoder's one heavy operation, <c>Y = X Wᵀ + b</c> over many token rows at once. Register-blocked: four token
/// rows against four weight rows at a time, sixteen 256-bit accumulators, so each loaded vector feeds four FMAs
/// instead of one (a row-by-row dot product is bound by loads). Rows and outputs left over from the blocks take
/// <see cref="Dot256"/>, which sums in exactly the blocks' order (one 256-bit FMA chain, then the lanes), so every
/// output is the same bits wherever its row falls: a sentence's embedding does not depend on the batch it is in (a
/// sentence that leaves a batch early equals the same sentence run alone). Widths that are not a multiple of 8, and
/// machines without 256-bit vectors, take the plain dot-product path throughout.
/// </summary>
internal static class EncoderKernels
{
    public static void Linear(ReadOnlySpan<float> x, int rows, BertLinear l, Span<float> y)
    {
        int n = l.Inputs, m = l.Outputs;
        if (!Vector256.IsHardwareAccelerated || n % Vector256<float>.Count != 0)
        {
            for (var o = 0; o < m; o++)
            {
                var w = l.Weight.AsSpan(o * n, n);
                for (var r = 0; r < rows; r++) y[r * m + o] = TensorPrimitives.Dot(x.Slice(r * n, n), w) + l.Bias[o];
            }
            return;
        }
        ref var xs = ref MemoryMarshal.GetReference(x);
        ref var ws = ref MemoryMarshal.GetArrayDataReference(l.Weight);
        var r0 = 0;
        for (; r0 + 4 <= rows; r0 += 4)
        {
            var o0 = 0;
            for (; o0 + 4 <= m; o0 += 4) Block4x4(ref xs, ref ws, n, r0, o0, l.Bias, y, m);
            for (; o0 < m; o0++)
                for (var r = r0; r < r0 + 4; r++) y[r * m + o0] = Dot256(ref Unsafe.Add(ref xs, r * n), ref Unsafe.Add(ref ws, o0 * n), n) + l.Bias[o0];
        }
        for (; r0 < rows; r0++)
            for (var o = 0; o < m; o++) y[r0 * m + o] = Dot256(ref Unsafe.Add(ref xs, r0 * n), ref Unsafe.Add(ref ws, o * n), n) + l.Bias[o];
    }

    /// <summary>One row against one weight row, summed as <see cref="Block4x4"/> sums each of its sixteen outputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot256(ref float x, ref float w, int n)
    {
        Vector256<float> a = default;
        for (var i = 0; i < n; i += Vector256<float>.Count)
            a = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref w, (nuint)i), a);
        return Vector256.Sum(a);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x4(ref float xs, ref float ws, int n, int r0, int o0, float[] bias, Span<float> y, int m)
    {
        ref var x0 = ref Unsafe.Add(ref xs, r0 * n);
        ref var x1 = ref Unsafe.Add(ref x0, n);
        ref var x2 = ref Unsafe.Add(ref x1, n);
        ref var x3 = ref Unsafe.Add(ref x2, n);
        ref var w0 = ref Unsafe.Add(ref ws, o0 * n);
        ref var w1 = ref Unsafe.Add(ref w0, n);
        ref var w2 = ref Unsafe.Add(ref w1, n);
        ref var w3 = ref Unsafe.Add(ref w2, n);
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        for (var i = 0; i < n; i += Vector256<float>.Count)
        {
            var v0 = Vector256.LoadUnsafe(ref w0, (nuint)i);
            var v1 = Vector256.LoadUnsafe(ref w1, (nuint)i);
            var v2 = Vector256.LoadUnsafe(ref w2, (nuint)i);
            var v3 = Vector256.LoadUnsafe(ref w3, (nuint)i);
            var u = Vector256.LoadUnsafe(ref x0, (nuint)i);
            a00 = Vector256.FusedMultiplyAdd(u, v0, a00); a01 = Vector256.FusedMultiplyAdd(u, v1, a01);
            a02 = Vector256.FusedMultiplyAdd(u, v2, a02); a03 = Vector256.FusedMultiplyAdd(u, v3, a03);
            u = Vector256.LoadUnsafe(ref x1, (nuint)i);
            a10 = Vector256.FusedMultiplyAdd(u, v0, a10); a11 = Vector256.FusedMultiplyAdd(u, v1, a11);
            a12 = Vector256.FusedMultiplyAdd(u, v2, a12); a13 = Vector256.FusedMultiplyAdd(u, v3, a13);
            u = Vector256.LoadUnsafe(ref x2, (nuint)i);
            a20 = Vector256.FusedMultiplyAdd(u, v0, a20); a21 = Vector256.FusedMultiplyAdd(u, v1, a21);
            a22 = Vector256.FusedMultiplyAdd(u, v2, a22); a23 = Vector256.FusedMultiplyAdd(u, v3, a23);
            u = Vector256.LoadUnsafe(ref x3, (nuint)i);
            a30 = Vector256.FusedMultiplyAdd(u, v0, a30); a31 = Vector256.FusedMultiplyAdd(u, v1, a31);
            a32 = Vector256.FusedMultiplyAdd(u, v2, a32); a33 = Vector256.FusedMultiplyAdd(u, v3, a33);
        }
        float b0 = bias[o0], b1 = bias[o0 + 1], b2 = bias[o0 + 2], b3 = bias[o0 + 3];
        var row = r0 * m + o0;
        y[row] = Vector256.Sum(a00) + b0; y[row + 1] = Vector256.Sum(a01) + b1; y[row + 2] = Vector256.Sum(a02) + b2; y[row + 3] = Vector256.Sum(a03) + b3;
        row += m;
        y[row] = Vector256.Sum(a10) + b0; y[row + 1] = Vector256.Sum(a11) + b1; y[row + 2] = Vector256.Sum(a12) + b2; y[row + 3] = Vector256.Sum(a13) + b3;
        row += m;
        y[row] = Vector256.Sum(a20) + b0; y[row + 1] = Vector256.Sum(a21) + b1; y[row + 2] = Vector256.Sum(a22) + b2; y[row + 3] = Vector256.Sum(a23) + b3;
        row += m;
        y[row] = Vector256.Sum(a30) + b0; y[row + 1] = Vector256.Sum(a31) + b1; y[row + 2] = Vector256.Sum(a32) + b2; y[row + 3] = Vector256.Sum(a33) + b3;
    }
}
