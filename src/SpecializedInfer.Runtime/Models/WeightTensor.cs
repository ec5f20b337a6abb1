namespace SpecializedInfer.Models;

/// <summary>
/// A float tensor living outside the GC heap: either inside the file mapping (F32, zero-copy) or in a pinned
/// array (dequantized). A struct of pointer and length so a class can hold it where a span cannot live.
/// </summary>
public readonly unsafe struct WeightTensor
{
    private readonly float* _data;

    internal WeightTensor(float* data, int rows, int cols)
    {
        _data = data;
        Rows = rows;
        Cols = cols;
    }

    public int Rows { get; }
    public int Cols { get; }
    public int Length => Rows * Cols;

    public ReadOnlySpan<float> Span => new(_data, Length);

    /// <summary>Row <paramref name="row"/> of a row-major matrix (the contiguous ggml dimension is the column).</summary>
    public ReadOnlySpan<float> Row(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row));
        return new ReadOnlySpan<float>(_data + (long)row * Cols, Cols);
    }

    internal float* Pointer => _data;
}
