namespace SpecializedInfer.Gguf;

/// <summary>
/// A GGUF file is not what it claims to be. Always names the file, the byte offset where reading went wrong and
/// what was expected there, so a user can tell a truncated download from a wrong file from a bug.
/// <see cref="ModelFormatException.FilePath"/>, <see cref="ModelFormatException.Offset"/> and
/// <see cref="ModelFormatException.Expected"/> come from the base class.
/// </summary>
public sealed class GgufFormatException : ModelFormatException
{
    public GgufFormatException(string filePath, long offset, string expected, Exception? inner = null)
        : base(filePath, offset, expected, inner)
    {
    }
}
