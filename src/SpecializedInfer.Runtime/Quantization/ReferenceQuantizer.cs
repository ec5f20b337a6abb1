using System.Buffers.Binary;

namespace SpecializedInfer.Quantization;

/// <summary>
/// ggml's reference quantizers, the ones llama.cpp's quantizer uses to write model files when no importance matrix
/// is given (<c>quantize_row_q8_0_ref</c>, <c>quantize_row_q4_0_ref</c>, <c>quantize_row_q6_K_ref</c> in
/// <c>ggml-quants.c</c>), with the same float operations in the same order, so the bytes are ggml's (checked
/// against the ggml library llama.cpp ships). Inputs are whole rows: a multiple of the block.
/// </summary>
public static class ReferenceQuantizer
{
    /// <summary>Q8_0: d = amax / 127, q = round(x / d) with halves away from zero.</summary>
    public static byte[] Q8_0(ReadOnlySpan<float> values)
    {
        var result = new byte[Blocks(values, 32) * 34];
        Q8_0(values, result);
        return result;
    }

    public static void Q8_0(ReadOnlySpan<float> values, Span<byte> blocks)
    {
        for (int b = 0, o = 0; b < values.Length; b += 32, o += 34)
        {
            var x = values.Slice(b, 32);
            var amax = 0f;
            foreach (var v in x) amax = Max(amax, MathF.Abs(v));
            var d = amax / 127;
            var id = d != 0 ? 1.0f / d : 0.0f;
            BinaryPrimitives.WriteHalfLittleEndian(blocks.Slice(o, 2), (Half)d);
            for (var j = 0; j < 32; j++) blocks[o + 2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>Q4_0: d = (the value of largest magnitude) / −8, q = min(15, trunc(x / d + 8.5)).</summary>
    public static byte[] Q4_0(ReadOnlySpan<float> values)
    {
        var result = new byte[Blocks(values, 32) * 18];
        Q4_0(values, result);
        return result;
    }

    public static void Q4_0(ReadOnlySpan<float> values, Span<byte> blocks)
    {
        for (int b = 0, o = 0; b < values.Length; b += 32, o += 18)
        {
            var x = values.Slice(b, 32);
            float amax = 0, max = 0;
            foreach (var v in x)
                if (amax < MathF.Abs(v))
                {
                    amax = MathF.Abs(v);
                    max = v;
                }
            var d = max / -8;
            var id = d != 0 ? 1.0f / d : 0.0f;
            BinaryPrimitives.WriteHalfLittleEndian(blocks.Slice(o, 2), (Half)d);
            for (var j = 0; j < 16; j++)
            {
                var x0 = x[j] * id;
                var x1 = x[j + 16] * id;
                var q0 = Math.Min(15, (int)(sbyte)(x0 + 8.5f));
                var q1 = Math.Min(15, (int)(sbyte)(x1 + 8.5f));
                blocks[o + 2 + j] = (byte)(q0 | (q1 << 4));
            }
        }
    }

    /// <summary>
    /// Q6_K: each 16-value sub-block gets the scale <c>make_qx_quants</c> finds (a search over 19 candidate scales
    /// minimising the x²-weighted error); the scales are quantized to 8 bits against the largest, and the values to 6
    /// bits against their quantized scale.
    /// </summary>
    public static byte[] Q6_K(ReadOnlySpan<float> values)
    {
        var result = new byte[Blocks(values, 256) * 210];
        Q6_K(values, result);
        return result;
    }

    public static void Q6_K(ReadOnlySpan<float> values, Span<byte> blocks)
    {
        Span<sbyte> levels = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        for (int b = 0, o = 0; b < values.Length; b += 256, o += 210)
        {
            var x = values.Slice(b, 256);
            var block = blocks.Slice(o, 210);
            float maxScale = 0, maxAbsScale = 0;
            for (var s = 0; s < 16; s++)
            {
                var scale = MakeQxQuants(32, x.Slice(16 * s, 16), levels.Slice(16 * s, 16));
                scales[s] = scale;
                if (MathF.Abs(scale) > maxAbsScale)
                {
                    maxAbsScale = MathF.Abs(scale);
                    maxScale = scale;
                }
            }
            if (maxAbsScale < GroupMaxEps)
            {
                block.Clear();
                continue;
            }
            var iscale = -128f / maxScale;
            BinaryPrimitives.WriteHalfLittleEndian(block.Slice(208, 2), (Half)(1 / iscale));
            for (var s = 0; s < 16; s++) block[192 + s] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[s]));
            var d0 = BlockDequantize.Half(block, 208);
            for (var s = 0; s < 16; s++)
            {
                var d = d0 * (sbyte)block[192 + s];
                if (d == 0) continue;
                for (var i = 0; i < 16; i++)
                    levels[16 * s + i] = (sbyte)(Math.Clamp(NearestInt(x[16 * s + i] / d), -32, 31) + 32);
            }
            for (int j = 0, ql = 0, qh = 128; j < 256; j += 128, ql += 64, qh += 32)
                for (var l = 0; l < 32; l++)
                {
                    int q1 = levels[j + l], q2 = levels[j + l + 32], q3 = levels[j + l + 64], q4 = levels[j + l + 96];
                    block[ql + l] = (byte)((q1 & 0xF) | ((q3 & 0xF) << 4));
                    block[ql + l + 32] = (byte)((q2 & 0xF) | ((q4 & 0xF) << 4));
                    block[qh + l] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
                }
        }
    }

    private const float GroupMaxEps = 1e-15f;

    /// <summary>ggml's <c>make_qx_quants</c> with rmse_type 1 and no importance weights (the weights are x²).</summary>
    private static float MakeQxQuants(int nmax, ReadOnlySpan<float> x, Span<sbyte> levels)
    {
        float max = 0, amax = 0;
        foreach (var v in x)
            if (MathF.Abs(v) > amax)
            {
                amax = MathF.Abs(v);
                max = v;
            }
        if (amax < GroupMaxEps)
        {
            levels.Clear();
            return 0f;
        }
        var iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (var i = 0; i < x.Length; i++)
        {
            var l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            levels[i] = (sbyte)(l + nmax);
            var w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        var scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        var best = scale * sumlx;
        for (var step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumlx = suml2 = 0;
            for (var i = 0; i < x.Length; i++)
            {
                var l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
                var w = x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (var i = 0; i < x.Length; i++) levels[i] = (sbyte)(nmax + Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /// <summary>ggml's <c>nearest_int</c>: round half to even through the float adder (exact for |x| ≤ 2²²).</summary>
    internal static int NearestInt(float value) => (BitConverter.SingleToInt32Bits(value + 12582912f) & 0x007fffff) - 0x00400000;

    /// <summary>ggml's MAX macro: the second argument unless the first is greater.</summary>
    private static float Max(float a, float b) => a > b ? a : b;

    private static int Blocks(ReadOnlySpan<float> values, int block) => values.Length % block == 0
        ? values.Length / block
        : throw new ArgumentException($"A whole number of {block}-value blocks is needed; got {values.Length} values.");
}
