namespace SpecializedInfer.Gguf;

/// <summary>Tensor element types, numbered as in ggml. Only the ones this runtime can read are named.</summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ4_NL = 20,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
}

/// <summary>Block geometry of the ggml types: elements per block and bytes per block.</summary>
public static class GgmlTypeInfo
{
    /// <summary>Elements per block and bytes per block, or false for a type this runtime does not know.</summary>
    public static bool TryGetLayout(GgmlType type, out int blockElements, out int blockBytes)
    {
        (blockElements, blockBytes) = type switch
        {
            GgmlType.F32 => (1, 4),
            GgmlType.F16 => (1, 2),
            GgmlType.BF16 => (1, 2),
            GgmlType.Q4_0 => (32, 18),
            GgmlType.Q4_1 => (32, 20),
            GgmlType.Q5_0 => (32, 22),
            GgmlType.Q5_1 => (32, 24),
            GgmlType.Q8_0 => (32, 34),
            GgmlType.Q8_1 => (32, 36),
            GgmlType.Q2_K => (256, 84),
            GgmlType.Q3_K => (256, 110),
            GgmlType.Q4_K => (256, 144),
            GgmlType.Q5_K => (256, 176),
            GgmlType.Q6_K => (256, 210),
            GgmlType.Q8_K => (256, 292),
            GgmlType.IQ4_NL => (32, 18),
            GgmlType.I8 => (1, 1),
            GgmlType.I16 => (1, 2),
            GgmlType.I32 => (1, 4),
            GgmlType.I64 => (1, 8),
            GgmlType.F64 => (1, 8),
            _ => (0, 0),
        };
        return blockElements != 0;
    }

    /// <summary>Whether <see cref="GgufFile.ReadAsFloat32"/> can turn this type into floats (every type a llama.cpp model file uses for weights).</summary>
    public static bool CanDequantize(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or GgmlType.IQ4_NL
        or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>ggml's name of a type, lowercase (<c>q8_0</c>, <c>q6_k</c>, <c>f32</c>): how manifests and messages spell it.</summary>
    public static string Name(GgmlType type) => type.ToString().ToLowerInvariant();

    /// <summary>The type named <paramref name="name"/> (case-insensitive, as <see cref="Name"/> spells it), if it is a type a weight can have.</summary>
    public static bool TryParse(string name, out GgmlType type)
    {
        foreach (var t in Enum.GetValues<GgmlType>())
            if (CanDequantize(t) && string.Equals(Name(t), name, StringComparison.OrdinalIgnoreCase))
            {
                type = t;
                return true;
            }
        type = default;
        return false;
    }
}
