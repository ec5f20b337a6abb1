using System.Buffers.Binary;

namespace SpecializedInfer.Quantization;

/// <summary>
/// ggml's dequantizers for the 32-value block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL), written as
/// <c>ggml-quants.c</c>'s <c>dequantize_row_*</c> so that every value is the same float, bit for bit (each is at most
/// one float multiply and one add, in ggml's order). Layouts in ggml's <c>ggml-common.h</c>; the scale d (and the
/// minimum m) are little-endian fp16.
/// </summary>
public static class BlockDequantize
{
    public const int BlockValues = 32;

    /// <summary>IQ4_NL's non-linear 4-bit levels (<c>kvalues_iq4nl</c>).</summary>
    private static ReadOnlySpan<sbyte> Iq4NlLevels => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    internal static float Half(ReadOnlySpan<byte> block, int at) => (float)BinaryPrimitives.ReadHalfLittleEndian(block.Slice(at, 2));

    /// <summary>Q8_0 (34 bytes): d, 32 signed quants q; x = q·d.</summary>
    public static void Q8_0(ReadOnlySpan<byte> blocks, Span<float> values)
    {
        for (int b = 0, o = 0; o < values.Length; b += 34, o += BlockValues)
        {
            var d = Half(blocks, b);
            for (var j = 0; j < BlockValues; j++) values[o + j] = (sbyte)blocks[b + 2 + j] * d;
        }
    }

    /// <summary>Q4_0 (18 bytes): d, 16 bytes of nibbles (low: values 0-15, high: 16-31); x = (q − 8)·d.</summary>
    public static void Q4_0(ReadOnlySpan<byte> blocks, Span<float> values)
    {
        for (int b = 0, o = 0; o < values.Length; b += 18, o += BlockValues)
        {
            var d = Half(blocks, b);
            for (var j = 0; j < 16; j++)
            {
                var q = blocks[b + 2 + j];
                values[o + j] = ((q & 0x0F) - 8) * d;
                values[o + j + 16] = ((q >> 4) - 8) * d;
            }
        }
    }

    /// <summary>Q4_1 (20 bytes): d, m, 16 bytes of nibbles; x = q·d + m.</summary>
    public static void Q4_1(ReadOnlySpan<byte> blocks, Span<float> values)
    {
        for (int b = 0, o = 0; o < values.Length; b += 20, o += BlockValues)
        {
            float d = Half(blocks, b), m = Half(blocks, b + 2);
            for (var j = 0; j < 16; j++)
            {
                var q = blocks[b + 4 + j];
                values[o + j] = (q & 0x0F) * d + m;
                values[o + j + 16] = (q >> 4) * d + m;
            }
        }
    }

    /// <summary>Q5_0 (22 bytes): d, 32 high bits, 16 bytes of nibbles; x = (q − 16)·d.</summary>
    public static void Q5_0(ReadOnlySpan<byte> blocks, Span<float> values)
    {
        for (int b = 0, o = 0; o < values.Length; b += 22, o += BlockValues)
        {
            var d = Half(blocks, b);
            var qh = BinaryPrimitives.ReadUInt32LittleEndian(blocks.Slice(b + 2, 4));
            for (var j = 0; j < 16; j++)
            {
                var q = blocks[b + 6 + j];
                values[o + j] = (((q & 0x0F) | (int)((qh >> j) << 4 & 0x10)) - 16) * d;
                values[o + j + 16] = (((q >> 4) | (int)((qh >> (j + 12)) & 0x10)) - 16) * d;
            }
        }
    }

    /// <summary>Q5_1 (24 bytes): d, m, 32 high bits, 16 bytes of nibbles; x = q·d + m.</summary>
    public static void Q5_1(ReadOnlySpan<byte> blocks, Span<float> values)
    {
        for (int b = 0, o = 0; o < values.Length; b += 24, o += BlockValues)
        {
            float d = Half(blocks, b), m = Half(blocks, b + 2);
            var qh = BinaryPrimitives.ReadUInt32LittleEndian(blocks.Slice(b + 4, 4));
            for (var j = 0; j < 16; j++)
            {
                var q = blocks[b + 8 + j];
                values[o + j] = ((q & 0x0F) | (int)((qh >> j) << 4 & 0x10)) * d + m;
                values[o + j + 16] = ((q >> 4) | (int)((qh >> (j + 12)) & 0x10)) * d + m;
            }
        }
    }

    /// <summary>IQ4_NL (18 bytes): d, 16 bytes of nibbles indexing the non-linear levels; x = d·level.</summary>
    public static void IQ4_NL(ReadOnlySpan<byte> blocks, Span<float> values)
    {
        for (int b = 0, o = 0; o < values.Length; b += 18, o += BlockValues)
        {
            var d = Half(blocks, b);
            for (var j = 0; j < 16; j++)
            {
                var q = blocks[b + 2 + j];
                values[o + j] = d * Iq4NlLevels[q & 0x0F];
                values[o + j + 16] = d * Iq4NlLevels[q >> 4];
            }
        }
    }
}
