namespace SpecializedInfer.Tokenization;

/// <summary>
/// A GGUF file's vocabulary is well formed but uses a tokenizer this library does not implement: a
/// <c>tokenizer.ggml.model</c> other than "llama" and "gpt2", or a <c>tokenizer.ggml.pre</c> pre-tokenizer whose
/// splitting rules are not reproduced here. Names the file, the key's offset and what is supported.
/// </summary>
public sealed class UnsupportedTokenizerException : ModelFormatException
{
    public UnsupportedTokenizerException(string filePath, long offset, string key, string found, IEnumerable<string> supported)
        : base(filePath, offset, $"'{key}' to name a tokenizer this library implements ({string.Join(", ", supported)}), found {found}")
    {
        Key = key;
        Found = found;
    }

    /// <summary>The metadata key that names the tokenizer.</summary>
    public string Key { get; }

    /// <summary>What the file says there, quoted, or "nothing" when the key is missing.</summary>
    public string Found { get; }
}
