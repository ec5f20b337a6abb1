namespace SpecializedInfer.Onnx;

/// <summary>
/// An ONNX file is not the encoder it should be: not a model at all (truncated, not protobuf), or a graph without
/// the initializer, shape or operator the BERT layout needs. Names the file, the graph node or initializer where
/// reading stopped, and what was expected there.
/// </summary>
public sealed class OnnxFormatException : ModelFormatException
{
    public OnnxFormatException(string filePath, string where, string expected, Exception? inner = null)
        : base(filePath, 0, expected, inner)
    {
        Where = where;
    }

    /// <summary>The node, initializer or input where reading stopped ("the file" when the protobuf itself is broken).</summary>
    public string Where { get; }

    public override string Message => $"{FilePath}: at {Where}: expected {Expected}";
}
