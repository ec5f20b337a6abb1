using System.Buffers.Binary;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tests.Quantization;

/// <summary>Seeded inputs for the quantization tests: weight-like rows, edge blocks, and raw blocks with finite scales.</summary>
internal static class QuantData
{
    /// <summary>Every weight type with its ggml id and the name of its <c>dequantize_row_*</c>.</summary>
    public static readonly (GgmlType Type, int Id, string Name)[] Types =
    [
        (GgmlType.F16, GgmlQuants.TypeId.F16, "f16"), (GgmlType.BF16, GgmlQuants.TypeId.BF16, "bf16"),
        (GgmlType.Q4_0, GgmlQuants.TypeId.Q4_0, "q4_0"), (GgmlType.Q4_1, GgmlQuants.TypeId.Q4_1, "q4_1"),
        (GgmlType.Q5_0, GgmlQuants.TypeId.Q5_0, "q5_0"), (GgmlType.Q5_1, GgmlQuants.TypeId.Q5_1, "q5_1"),
        (GgmlType.Q8_0, GgmlQuants.TypeId.Q8_0, "q8_0"), (GgmlType.IQ4_NL, GgmlQuants.TypeId.IQ4_NL, "iq4_nl"),
        (GgmlType.Q2_K, GgmlQuants.TypeId.Q2_K, "q2_K"), (GgmlType.Q3_K, GgmlQuants.TypeId.Q3_K, "q3_K"),
        (GgmlType.Q4_K, GgmlQuants.TypeId.Q4_K, "q4_K"), (GgmlType.Q5_K, GgmlQuants.TypeId.Q5_K, "q5_K"),
        (GgmlType.Q6_K, GgmlQuants.TypeId.Q6_K, "q6_K"),
    ];

    /// <summary>Byte offsets of each block's fp16 scale fields (every value for F16), for raw random blocks.</summary>
    public static int[] ScaleOffsets(GgmlType type) => type switch
    {
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 or GgmlType.IQ4_NL => [0],
        GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
        GgmlType.Q2_K => [80, 82],
        GgmlType.Q3_K => [108],
        GgmlType.Q6_K => [208],
        _ => [],
    };

    /// <summary>Gaussian-ish values (sum of uniforms) of scale <paramref name="scale"/>, some rows with outliers.</summary>
    public static float[] Weights(int count, int seed, float scale = 0.05f)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            var u = random.NextSingle() + random.NextSingle() + random.NextSingle() - 1.5f;
            values[i] = scale * u * (random.Next(64) == 0 ? 8 : 1);
        }
        return values;
    }

    /// <summary>
    /// Blocks that stress the arithmetic, each <paramref name="block"/> values: all zeros, one non-zero value, all
    /// equal, huge and tiny magnitudes (fp16 scales near their largest and in the subnormal range, still finite),
    /// alternating signs, and values landing exactly on rounding ties.
    /// </summary>
    public static float[] EdgeBlocks(int block)
    {
        var rows = new List<float[]>
        {
            new float[block],
            Enumerable.Range(0, block).Select(i => i == 3 ? -0.7f : 0f).ToArray(),
            Enumerable.Repeat(0.25f, block).ToArray(),
            Enumerable.Repeat(-1e-3f, block).ToArray(),
            Enumerable.Range(0, block).Select(i => (i % 2 == 0 ? 1 : -1) * 6e4f * (i + 1) / block).ToArray(),
            Enumerable.Range(0, block).Select(i => (i % 3 - 1) * 3e-7f * (i + 1)).ToArray(),
            Enumerable.Range(0, block).Select(i => (i - block / 2) * 0.5f).ToArray(),
            Enumerable.Range(0, block).Select(i => (i - block / 2) / 127f * 2.5f).ToArray(),
            Enumerable.Range(0, block).Select(i => i % 4 == 0 ? 1f : -1e-9f).ToArray(),
        };
        return rows.SelectMany(r => r).ToArray();
    }

    /// <summary>Random bytes in <paramref name="type"/>'s blocks, every scale field a random finite fp16: quants no quantizer writes.</summary>
    public static byte[] RawBlocks(GgmlType type, int values, int seed)
    {
        GgmlTypeInfo.TryGetLayout(type, out var blockValues, out var blockBytes);
        var random = new Random(seed);
        var bytes = new byte[values / blockValues * blockBytes];
        random.NextBytes(bytes);
        var offsets = type is GgmlType.F16 ? Enumerable.Range(0, blockBytes / 2).Select(i => 2 * i).ToArray() : ScaleOffsets(type);
        for (var b = 0; b < bytes.Length; b += blockBytes)
            foreach (var at in offsets)
            {
                ushort bits;
                do bits = (ushort)random.Next(65536); while ((bits & 0x7C00) == 0x7C00);
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(b + at, 2), bits);
            }
        if (type is GgmlType.BF16)
            for (var b = 0; b < bytes.Length; b += 2)
                if ((BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(b, 2)) & 0x7F80) == 0x7F80) bytes[b + 1] ^= 0x40;
        return bytes;
    }

    public static uint[] Bits(float[] values) => values.Select(BitConverter.SingleToUInt32Bits).ToArray();

    /// <summary>The index of the first difference (-1 when equal), for messages.</summary>
    public static int FirstDifference<T>(T[] a, T[] b) where T : IEquatable<T>
    {
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
            if (!a[i].Equals(b[i])) return i;
        return a.Length == b.Length ? -1 : Math.Min(a.Length, b.Length);
    }
}
