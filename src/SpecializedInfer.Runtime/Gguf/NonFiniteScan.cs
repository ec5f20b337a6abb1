using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace SpecializedInfer.Gguf;

/// <summary>
/// A tensor holding NaN or infinite values: how many of each, and the first element index (in storage order) that is
/// not finite. For Q8_0 a non-finite block scale makes the block's 32 values non-finite (d × q: NaN for q = 0).
/// </summary>
public sealed record NonFiniteTensor(string Name, GgmlType Type, long NaNs, long Infinities, long FirstIndex)
{
    public override string ToString() =>
        $"tensor '{Name}' ({Type}) has {NaNs:N0} NaN and {Infinities:N0} infinite values; the first at element {FirstIndex:N0}";
}

/// <summary>
/// Finds the non-finite values in a model's tensors without dequantizing them: only the exponent bits are read
/// (all-ones means NaN or infinity in F32, F16 and BF16, and in Q8_0's F16 block scales). Loading never does this, since
/// it would touch every byte of a mapped file; <c>si inspect --check-values</c> does.
/// </summary>
public static class NonFiniteScan
{
    /// <summary>Every tensor of a type this runtime reads (F32, F16, BF16, Q8_0) that holds a non-finite value, in file order.</summary>
    public static IReadOnlyList<NonFiniteTensor> FindNonFiniteValues(this GgufFile file)
    {
        var found = new List<NonFiniteTensor>();
        foreach (var t in file.Tensors)
        {
            if (!GgmlTypeInfo.CanDequantize(t.Type)) continue;
            var (nans, infinities, first) = Scan(t.Type, file.GetBytes(t));
            if (nans + infinities > 0) found.Add(new NonFiniteTensor(t.Name, t.Type, nans, infinities, first));
        }
        return found;
    }

    private static (long NaNs, long Infinities, long First) Scan(GgmlType type, ReadOnlySpan<byte> bytes) => type switch
    {
        GgmlType.F32 => ScanBits(MemoryMarshal.Cast<byte, uint>(bytes), 0x7F80_0000u, 0x007F_FFFFu),
        GgmlType.F16 => ScanBits(MemoryMarshal.Cast<byte, ushort>(bytes), (ushort)0x7C00, (ushort)0x03FF),
        GgmlType.BF16 => ScanBits(MemoryMarshal.Cast<byte, ushort>(bytes), (ushort)0x7F80, (ushort)0x007F),
        GgmlType.Q8_0 => ScanQ8_0(bytes),
        _ => (0, 0, -1),
    };

    /// <summary>
    /// Counts values whose exponent bits are all set (NaN when the mantissa is not zero, else infinity). Whole vectors
    /// are tested first, so a clean tensor costs one compare per vector.
    /// </summary>
    private static (long NaNs, long Infinities, long First) ScanBits<T>(ReadOnlySpan<T> values, T exponent, T mantissa)
        where T : unmanaged, IBinaryInteger<T>
    {
        long nans = 0, infinities = 0, first = -1;
        var i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<T>.Count)
        {
            var mask = new Vector<T>(exponent);
            var vectors = MemoryMarshal.Cast<T, Vector<T>>(values);
            for (var v = 0; v < vectors.Length; v++)
            {
                if (!Vector.EqualsAny(vectors[v] & mask, mask)) continue;
                for (var j = v * Vector<T>.Count; j < (v + 1) * Vector<T>.Count; j++) Count(values[j], j);
            }
            i = vectors.Length * Vector<T>.Count;
        }
        for (; i < values.Length; i++) Count(values[i], i);
        return (nans, infinities, first);

        void Count(T bits, long index)
        {
            if ((bits & exponent) != exponent) return;
            if ((bits & mantissa) != T.Zero) nans++;
            else infinities++;
            if (first < 0) first = index;
        }
    }

    private static (long NaNs, long Infinities, long First) ScanQ8_0(ReadOnlySpan<byte> bytes)
    {
        long nans = 0, infinities = 0, first = -1;
        for (int block = 0, index = 0; block + GgmlDequantize.Q8_0BlockBytes <= bytes.Length; block += GgmlDequantize.Q8_0BlockBytes, index += GgmlDequantize.Q8_0BlockElements)
        {
            var scale = BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(block, 2));
            if ((scale & 0x7C00) != 0x7C00) continue;
            if (first < 0) first = index;
            if ((scale & 0x03FF) != 0)
            {
                nans += GgmlDequantize.Q8_0BlockElements;
                continue;
            }
            // Infinity times a quant: infinite, except times 0, which is NaN.
            var zeros = bytes.Slice(block + 2, GgmlDequantize.Q8_0BlockElements).Count((byte)0);
            nans += zeros;
            infinities += GgmlDequantize.Q8_0BlockElements - zeros;
        }
        return (nans, infinities, first);
    }
}
