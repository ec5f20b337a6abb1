using System.Buffers.Binary;

namespace SpecializedInfer.Quantization;

/// <summary>
/// ggml's dequantizers for the 256-value super-block formats ("K-quants": Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), written as
/// <c>ggml-quants.c</c>'s <c>dequantize_row_*</c>, same operations in the same order, so every value is ggml's float.
/// A super-block holds 16 or 8 sub-blocks whose 4-, 6- or 8-bit scales (and minimums) are multiplied by the fp16 d
/// (and dmin) of the super-block. Byte layouts as in <c>ggml-common.h</c>.
/// </summary>
public static class SuperBlockDequantize
{
    public const int BlockValues = 256;

    private static float Half(ReadOnlySpan<byte> block, int at) => BlockDequantize.Half(block, at);

    /// <summary>Q2_K (84 bytes): scales[16] (low nibble scale, high nibble min), qs[64] (2 bits), d, dmin.</summary>
    public static void Q2_K(ReadOnlySpan<byte> blocks, Span<float> values)
    {
        for (int b = 0, o = 0; o < values.Length; b += 84)
        {
            float d = Half(blocks, b + 80), min = Half(blocks, b + 82);
            var scales = blocks.Slice(b, 16);
            var q = b + 16;
            var s = 0;
            for (var n = 0; n < BlockValues; n += 128, q += 32)
                for (var shift = 0; shift < 8; shift += 2)
                    for (var half = 0; half < 32; half += 16)
                    {
                        var sc = scales[s++];
                        float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                        for (var l = 0; l < 16; l++) values[o++] = dl * ((blocks[q + half + l] >> shift) & 3) - ml;
                    }
        }
    }

    /// <summary>Q3_K (110 bytes): hmask[32] (high bits), qs[64] (low 2 bits), scales[12] (sixteen 6-bit scales), d.</summary>
    public static void Q3_K(ReadOnlySpan<byte> blocks, Span<float> values)
    {
        const uint kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
        Span<uint> aux = stackalloc uint[4];
        Span<sbyte> scales = stackalloc sbyte[16];
        for (int b = 0, o = 0; o < values.Length; b += 110)
        {
            var dAll = Half(blocks, b + 108);
            aux[0] = BinaryPrimitives.ReadUInt32LittleEndian(blocks.Slice(b + 96, 4));
            aux[1] = BinaryPrimitives.ReadUInt32LittleEndian(blocks.Slice(b + 100, 4));
            aux[2] = BinaryPrimitives.ReadUInt32LittleEndian(blocks.Slice(b + 104, 4));
            var tmp = aux[2];
            aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
            aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
            aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
            aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
            for (var i = 0; i < 16; i++) scales[i] = (sbyte)(aux[i / 4] >> (8 * (i % 4)));

            var q = b + 32;
            var hm = b;
            var m = 1;
            var s = 0;
            for (var n = 0; n < BlockValues; n += 128, q += 32)
                for (var shift = 0; shift < 8; shift += 2, m <<= 1)
                    for (var half = 0; half < 32; half += 16)
                    {
                        var dl = dAll * (scales[s++] - 32);
                        for (var l = 0; l < 16; l++)
                            values[o++] = dl * (((blocks[q + half + l] >> shift) & 3) - ((blocks[hm + half + l] & m) != 0 ? 0 : 4));
                    }
        }
    }

    /// <summary>Q4_K (144 bytes): d, dmin, scales[12] (eight 6-bit scales and minimums), qs[128] (nibbles).</summary>
    public static void Q4_K(ReadOnlySpan<byte> blocks, Span<float> values)
    {
        for (int b = 0, o = 0; o < values.Length; b += 144)
        {
            float d = Half(blocks, b), min = Half(blocks, b + 2);
            var scales = blocks.Slice(b + 4, 12);
            var q = b + 16;
            for (var j = 0; j < 4; j++, q += 32)
            {
                var (sc1, m1) = ScaleMin(2 * j, scales);
                var (sc2, m2) = ScaleMin(2 * j + 1, scales);
                float d1 = d * sc1, mm1 = min * m1, d2 = d * sc2, mm2 = min * m2;
                for (var l = 0; l < 32; l++) values[o++] = d1 * (blocks[q + l] & 0xF) - mm1;
                for (var l = 0; l < 32; l++) values[o++] = d2 * (blocks[q + l] >> 4) - mm2;
            }
        }
    }

    /// <summary>Q5_K (176 bytes): d, dmin, scales[12], qh[32] (fifth bits), qs[128] (nibbles).</summary>
    public static void Q5_K(ReadOnlySpan<byte> blocks, Span<float> values)
    {
        for (int b = 0, o = 0; o < values.Length; b += 176)
        {
            float d = Half(blocks, b), min = Half(blocks, b + 2);
            var scales = blocks.Slice(b + 4, 12);
            var qh = b + 16;
            var ql = b + 48;
            int u1 = 1, u2 = 2;
            for (var j = 0; j < 4; j++, ql += 32, u1 <<= 2, u2 <<= 2)
            {
                var (sc1, m1) = ScaleMin(2 * j, scales);
                var (sc2, m2) = ScaleMin(2 * j + 1, scales);
                float d1 = d * sc1, mm1 = min * m1, d2 = d * sc2, mm2 = min * m2;
                for (var l = 0; l < 32; l++) values[o++] = d1 * ((blocks[ql + l] & 0xF) + ((blocks[qh + l] & u1) != 0 ? 16 : 0)) - mm1;
                for (var l = 0; l < 32; l++) values[o++] = d2 * ((blocks[ql + l] >> 4) + ((blocks[qh + l] & u2) != 0 ? 16 : 0)) - mm2;
            }
        }
    }

    /// <summary>Q6_K (210 bytes): ql[128] (low nibbles), qh[64] (high 2 bits), scales[16] (signed), d; x = d·scale·(q − 32).</summary>
    public static void Q6_K(ReadOnlySpan<byte> blocks, Span<float> values)
    {
        for (int b = 0, o = 0; o < values.Length; b += 210)
        {
            var d = Half(blocks, b + 208);
            int ql = b, qh = b + 128, sc = b + 192;
            for (var n = 0; n < BlockValues; n += 128, ql += 64, qh += 32, sc += 8, o += 128)
                for (var l = 0; l < 32; l++)
                {
                    var s = l / 16;
                    int h = blocks[qh + l];
                    values[o + l] = d * (sbyte)blocks[sc + s] * (((blocks[ql + l] & 0xF) | ((h & 3) << 4)) - 32);
                    values[o + l + 32] = d * (sbyte)blocks[sc + s + 2] * (((blocks[ql + l + 32] & 0xF) | (((h >> 2) & 3) << 4)) - 32);
                    values[o + l + 64] = d * (sbyte)blocks[sc + s + 4] * (((blocks[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32);
                    values[o + l + 96] = d * (sbyte)blocks[sc + s + 6] * (((blocks[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32);
                }
        }
    }

    /// <summary>ggml's <c>get_scale_min_k4</c>: the 6-bit scale and minimum of sub-block <paramref name="j"/> of Q4_K/Q5_K.</summary>
    internal static (int Scale, int Min) ScaleMin(int j, ReadOnlySpan<byte> q) => j < 4
        ? (q[j] & 63, q[j + 4] & 63)
        : ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));
}
