using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tokenization;

/// <summary>Opens the tokenizer a GGUF file's metadata names, as llama.cpp's vocabulary loader chooses it.</summary>
public static class Tokenizers
{
    private const string ModelKey = "tokenizer.ggml.model";

    /// <summary>The tokenizer models <see cref="FromGguf(GgufFile)"/> reads.</summary>
    public static IReadOnlyList<string> Models { get; } = ["llama", "gpt2"];

    /// <summary>
    /// <see cref="LlamaTokenizer"/> for <c>tokenizer.ggml.model = llama</c> (SentencePiece), <see cref="ByteLevelBpeTokenizer"/>
    /// for <c>gpt2</c> (byte-level BPE). Another model, or a pre-tokenizer not implemented here, throws
    /// <see cref="UnsupportedTokenizerException"/>; a malformed vocabulary <see cref="GgufFormatException"/>.
    /// </summary>
    public static ITokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return file.GetString(ModelKey) switch
        {
            "llama" => LlamaTokenizer.FromGguf(file),
            "gpt2" => ByteLevelBpeTokenizer.FromGguf(file),
            var model => throw new UnsupportedTokenizerException(file.FilePath, file.Find(ModelKey)!.Offset, ModelKey, $"\"{model}\"", Models),
        };
    }

    /// <summary>Opens <paramref name="modelPath"/> and reads its tokenizer (see <see cref="FromGguf(GgufFile)"/>).</summary>
    public static ITokenizer FromGguf(string modelPath)
    {
        using var file = GgufFile.Open(modelPath);
        return FromGguf(file);
    }
}
