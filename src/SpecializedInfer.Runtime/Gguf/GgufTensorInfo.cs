namespace SpecializedInfer.Gguf;

/// <summary>
/// A tensor's header entry. <see cref="Dimensions"/> are in ggml order: the first dimension is the contiguous one
/// (a weight matrix of <c>rows</c> outputs by <c>cols</c> inputs is stored as <c>[cols, rows]</c>).
/// </summary>
public sealed record GgufTensorInfo(string Name, long[] Dimensions, GgmlType Type, long DataOffset, long ByteSize)
{
    /// <summary>Byte offset of this entry in the header, for error messages.</summary>
    public long HeaderOffset { get; init; }

    /// <summary>Absolute byte offset of the tensor data in the file.</summary>
    public long FileOffset { get; init; }

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Dimensions) n *= d;
            return n;
        }
    }

    public string Shape => "[" + string.Join(", ", Dimensions) + "]";
}
