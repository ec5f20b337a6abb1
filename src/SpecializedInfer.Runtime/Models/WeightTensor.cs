using SpecializedInfer.Gguf;

namespace SpecializedInfer.Models;

/// <summary>
/// A weight tensor of <see cref="Rows"/> × <see cref="Cols"/> values living outside the GC heap, in its stored type:
/// F32 (in the file mapping, or in a pinned array when it was expanded from F16, BF16 or a K-quant at load), or a
/// block-quantized type the engines compute on directly (Q8_0, Q4_0), read from the file mapping without a copy:
/// <see cref="Type"/>, <see cref="RowBytes"/> and <see cref="QuantizedRow"/> give its blocks. A struct of pointer and
/// shape so a class can hold it where a span cannot live.
/// </summary>
/// <remarks>
/// <see cref="Span"/> and <see cref="Row"/> are float views. On a quantized tensor they expand the whole tensor to F32
/// once, on first use (<see cref="LlamaWeights.DequantizedTensors"/> counts it): what code without quantized kernels
/// (generated engines, until theirs land; the exit learner) reads. The reference engine never does: it multiplies the
/// blocks (<see cref="Quantization.QuantizedDot"/>) and dequantizes single embedding rows (<see cref="ReadRow"/>).
/// </remarks>
public readonly unsafe struct WeightTensor
{
    private readonly byte* _data;
    private readonly Float32Expansion? _expansion;

    /// <summary>An F32 tensor at <paramref name="data"/>.</summary>
    internal WeightTensor(float* data, int rows, int cols)
    {
        _data = (byte*)data;
        Type = GgmlType.F32;
        Rows = rows;
        Cols = cols;
        RowBytes = (long)cols * sizeof(float);
    }

    /// <summary>A quantized tensor whose blocks start at <paramref name="data"/>; <paramref name="expansion"/> makes its float view.</summary>
    internal WeightTensor(byte* data, GgmlType type, int rows, int cols, Float32Expansion expansion)
    {
        GgmlTypeInfo.TryGetLayout(type, out var blockValues, out var blockBytes);
        _data = data;
        _expansion = expansion;
        Type = type;
        Rows = rows;
        Cols = cols;
        RowBytes = (long)cols / blockValues * blockBytes;
    }

    /// <summary>How the values are stored: F32, or a ggml block type the engines multiply directly.</summary>
    public GgmlType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int Length => Rows * Cols;

    /// <summary>Bytes from one row to the next (cols × 4 for F32; whole blocks for a quantized type).</summary>
    public long RowBytes { get; }

    public bool IsQuantized => Type != GgmlType.F32;

    /// <summary>The values as floats: the tensor itself when F32, else its expansion (made once, on first use).</summary>
    public ReadOnlySpan<float> Span => _expansion is null ? new ReadOnlySpan<float>(_data, Length) : _expansion.Values;

    /// <summary>Row <paramref name="row"/> of a row-major matrix (the contiguous ggml dimension is the column), as floats (see <see cref="Span"/>).</summary>
    public ReadOnlySpan<float> Row(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException($"Row {row} does not exist: the tensor has rows 0 to {Rows - 1}.", innerException: null);
        return Span.Slice(row * Cols, Cols);
    }

    /// <summary>The stored bytes of row <paramref name="row"/> (<see cref="RowBytes"/> long): blocks of <see cref="Type"/>.</summary>
    public ReadOnlySpan<byte> QuantizedRow(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException($"Row {row} does not exist: the tensor has rows 0 to {Rows - 1}.", innerException: null);
        return new ReadOnlySpan<byte>(_data + row * RowBytes, checked((int)RowBytes));
    }

    /// <summary>
    /// Drops this tensor's pages from the process's resident set when its blocks are in the file mapping (every
    /// quantized tensor not expanded): for a caller that copied them and will read the copy from now on.
    /// </summary>
    internal void ReleaseMappedPages()
    {
        if (_expansion is not null) Gguf.MappedPages.Release(_data, Rows * RowBytes);
    }

    /// <summary>Row <paramref name="row"/> as floats, dequantized on the spot for a quantized tensor (no expansion).</summary>
    public void ReadRow(int row, Span<float> destination)
    {
        if (_expansion is null) Row(row).CopyTo(destination);
        else GgmlDequantize.ToFloat32(Type, QuantizedRow(row), destination[..Cols]);
    }
}
