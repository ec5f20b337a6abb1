using System.Buffers.Binary;

namespace SpecializedInfer.Quantization;

/// <summary>
/// How a matrix product with Q8_0 or Q4_0 weights quantizes its input vector, as llama.cpp's CPU backend does on
/// x86 (<c>quantize_row_q8_0</c> in <c>ggml-cpu/arch/x86/quants.c</c>): per block of 32 values,
/// <c>amax = max |x|</c>, the stored scale <c>d = fp16(amax / 127)</c>, and <c>q = round(x · (127 / amax))</c>
/// rounded half to even (<c>_mm256_round_ps(_MM_ROUND_NEAREST)</c>); a block of zeros gets d = 0 and q = 0.
/// This differs from the reference quantizer that writes files (<see cref="ReferenceQuantizer.Q8_0(ReadOnlySpan{float})"/>:
/// multiplier 1/d, halves away from zero) in the last bit of some quants, and is what the product actually multiplies.
/// </summary>
public static class ActivationQuantizer
{
    public const int BlockValues = 32;
    public const int BlockBytes = 34;

    /// <summary>Bytes of the Q8_0 blocks of <paramref name="values"/> values.</summary>
    public static int Bytes(int values) => values / BlockValues * BlockBytes;

    /// <summary>Quantizes <paramref name="values"/> (a multiple of 32) into <paramref name="blocks"/>.</summary>
    public static void Q8_0(ReadOnlySpan<float> values, Span<byte> blocks)
    {
        if (values.Length % BlockValues != 0)
            throw new ArgumentException($"A whole number of {BlockValues}-value blocks is needed; got {values.Length} values.", nameof(values));
        for (int b = 0, o = 0; b < values.Length; b += BlockValues, o += BlockBytes)
        {
            var x = values.Slice(b, BlockValues);
            var amax = 0f;
            foreach (var v in x) amax = MathF.Max(amax, MathF.Abs(v));
            BinaryPrimitives.WriteHalfLittleEndian(blocks.Slice(o, 2), (Half)(amax / 127f));
            var id = amax != 0 ? 127f / amax : 0f;
            for (var j = 0; j < BlockValues; j++)
                blocks[o + 2 + j] = (byte)(sbyte)Math.Clamp(MathF.Round(x[j] * id, MidpointRounding.ToEven), -128f, 127f);
        }
    }
}
