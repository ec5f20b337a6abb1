using System.Runtime.InteropServices;
using SpecializedInfer.Quantization;

namespace SpecializedInfer.Gguf;

/// <summary>
/// Conversions from stored ggml types to float32, bit-exact with ggml's own dequantizers (checked against the ggml
/// library llama.cpp ships, on data quantized by ggml's quantizers). The block formats live in
/// <see cref="BlockDequantize"/> (32 values) and <see cref="SuperBlockDequantize"/> (256 values).
/// </summary>
public static class GgmlDequantize
{
    public const int Q8_0BlockElements = 32;
    public const int Q8_0BlockBytes = 2 + Q8_0BlockElements;

    /// <summary>
    /// Dequantizes whole blocks: <paramref name="source"/> holds <paramref name="destination"/>.Length values of
    /// <paramref name="type"/> (a multiple of its block).
    /// </summary>
    public static void ToFloat32(GgmlType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!GgmlTypeInfo.TryGetLayout(type, out var blockValues, out var blockBytes) || !GgmlTypeInfo.CanDequantize(type))
            throw new NotSupportedException($"Dequantizing {type} is not supported.");
        if (destination.Length % blockValues != 0 || source.Length < (long)destination.Length / blockValues * blockBytes)
            throw new ArgumentException($"{destination.Length} values of {type} need whole blocks of {blockValues} ({(long)destination.Length / blockValues * blockBytes} bytes); {source.Length} bytes were given.");
        switch (type)
        {
            case GgmlType.F32:
                MemoryMarshal.Cast<byte, float>(source)[..destination.Length].CopyTo(destination);
                break;
            case GgmlType.F16:
                var halves = MemoryMarshal.Cast<byte, Half>(source);
                for (var i = 0; i < destination.Length; i++) destination[i] = (float)halves[i];
                break;
            case GgmlType.BF16:
                var raw = MemoryMarshal.Cast<byte, ushort>(source);
                for (var i = 0; i < destination.Length; i++) destination[i] = BitConverter.Int32BitsToSingle(raw[i] << 16);
                break;
            case GgmlType.Q4_0: BlockDequantize.Q4_0(source, destination); break;
            case GgmlType.Q4_1: BlockDequantize.Q4_1(source, destination); break;
            case GgmlType.Q5_0: BlockDequantize.Q5_0(source, destination); break;
            case GgmlType.Q5_1: BlockDequantize.Q5_1(source, destination); break;
            case GgmlType.Q8_0: BlockDequantize.Q8_0(source, destination); break;
            case GgmlType.IQ4_NL: BlockDequantize.IQ4_NL(source, destination); break;
            case GgmlType.Q2_K: SuperBlockDequantize.Q2_K(source, destination); break;
            case GgmlType.Q3_K: SuperBlockDequantize.Q3_K(source, destination); break;
            case GgmlType.Q4_K: SuperBlockDequantize.Q4_K(source, destination); break;
            case GgmlType.Q5_K: SuperBlockDequantize.Q5_K(source, destination); break;
            case GgmlType.Q6_K: SuperBlockDequantize.Q6_K(source, destination); break;
        }
    }
}
