using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SpecializedInfer.Gguf;

/// <summary>Conversions from stored ggml types to float32, bit-exact with ggml's own dequantizers.</summary>
public static class GgmlDequantize
{
    public const int Q8_0BlockElements = 32;
    public const int Q8_0BlockBytes = 2 + Q8_0BlockElements;

    public static void ToFloat32(GgmlType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (type)
        {
            case GgmlType.F32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case GgmlType.F16:
                var halves = MemoryMarshal.Cast<byte, Half>(source);
                for (var i = 0; i < halves.Length; i++) destination[i] = (float)halves[i];
                break;
            case GgmlType.BF16:
                var raw = MemoryMarshal.Cast<byte, ushort>(source);
                for (var i = 0; i < raw.Length; i++) destination[i] = BitConverter.Int32BitsToSingle(raw[i] << 16);
                break;
            case GgmlType.Q8_0:
                // Block: fp16 scale d, then 32 signed bytes q; x = d * q.
                for (int block = 0, o = 0; block + Q8_0BlockBytes <= source.Length; block += Q8_0BlockBytes)
                {
                    var d = (float)BinaryPrimitives.ReadHalfLittleEndian(source.Slice(block, 2));
                    for (var j = 0; j < Q8_0BlockElements; j++) destination[o++] = d * (sbyte)source[block + 2 + j];
                }
                break;
            default:
                throw new NotSupportedException($"Dequantizing {type} is not supported.");
        }
    }

    /// <summary>Quantizes to Q8_0 the way ggml's reference quantizer does (round to nearest, scale = amax/127).</summary>
    public static byte[] QuantizeQ8_0(ReadOnlySpan<float> values)
    {
        if (values.Length % Q8_0BlockElements != 0)
            throw new ArgumentException($"Q8_0 needs a multiple of {Q8_0BlockElements} values, got {values.Length}.", nameof(values));
        var result = new byte[values.Length / Q8_0BlockElements * Q8_0BlockBytes];
        for (int b = 0, o = 0; b < values.Length; b += Q8_0BlockElements, o += Q8_0BlockBytes)
        {
            var block = values.Slice(b, Q8_0BlockElements);
            float amax = 0;
            foreach (var v in block) amax = MathF.Max(amax, MathF.Abs(v));
            var d = amax / 127f;
            var id = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteHalfLittleEndian(result.AsSpan(o, 2), (Half)d);
            for (var j = 0; j < Q8_0BlockElements; j++) result[o + 2 + j] = (byte)(sbyte)MathF.Round(block[j] * id, MidpointRounding.AwayFromZero);
        }
        return result;
    }
}
