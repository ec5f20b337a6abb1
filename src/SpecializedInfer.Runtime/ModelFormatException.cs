namespace SpecializedInfer;

/// <summary>
/// A model (or tokenizer) file is not what it claims to be. Always names the file, the byte offset where reading
/// went wrong and what was expected there, so a user can tell a truncated download from a wrong file from a bug.
/// <see cref="Gguf.GgufFormatException"/> is the GGUF-specific kind; other formats (llama2.c checkpoints and
/// tokenizer files) throw this type directly.
/// </summary>
public class ModelFormatException : Exception
{
    public ModelFormatException(string filePath, long offset, string expected, Exception? inner = null)
        : base($"{filePath}: at byte offset {offset}: expected {expected}", inner)
    {
        FilePath = filePath;
        Offset = offset;
        Expected = expected;
    }

    /// <summary>The file that failed to parse.</summary>
    public string FilePath { get; }

    /// <summary>Byte offset in the file where the problem was found.</summary>
    public long Offset { get; }

    /// <summary>What the reader expected at <see cref="Offset"/>.</summary>
    public string Expected { get; }
}
