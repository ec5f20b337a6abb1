using System.Text;

namespace SpecializedInfer.Onnx;

/// <summary>
/// A BERT <c>vocab.txt</c>: one WordPiece per line, the line number (from 0) is the token id. Continuation pieces
/// start with <c>##</c>; the special tokens are the bracketed ones BERT defines.
/// </summary>
public static class BertVocabularyFile
{
    /// <summary>The tokens BERT's tokenizer treats as special (never split, never produced from text except [UNK]).</summary>
    public static readonly string[] SpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    /// <summary>The largest vocab.txt read: BERT vocabularies are a few hundred kilobytes.</summary>
    public const int MaxBytes = 64 << 20;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string[] Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"The vocabulary file '{path}' does not exist.", path);
        if (info.Length > MaxBytes) throw new ModelFormatException(path, MaxBytes, $"a vocab.txt under {MaxBytes:N0} bytes, found {info.Length:N0}");
        return Parse(path, File.ReadAllBytes(path));
    }

    /// <summary>Parses vocab.txt bytes; a bad line throws naming the line and byte offset.</summary>
    public static string[] Parse(string sourceName, byte[] bytes)
    {
        var tokens = new List<string>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var start = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
        while (start < bytes.Length)
        {
            var end = Array.IndexOf(bytes, (byte)'\n', start);
            if (end < 0) end = bytes.Length;
            var length = end - start;
            if (length > 0 && bytes[start + length - 1] == '\r') length--;
            var line = tokens.Count + 1;
            string token;
            try { token = StrictUtf8.GetString(bytes, start, length); }
            catch (DecoderFallbackException e)
            {
                throw new ModelFormatException(sourceName, start, $"UTF-8 text on line {line}", e);
            }
            if (token.Length == 0)
                throw new ModelFormatException(sourceName, start, $"a token on line {line}, found an empty line");
            if (!seen.TryAdd(token, tokens.Count))
                throw new ModelFormatException(sourceName, start, $"each token once, found '{token}' on line {line} and line {seen[token] + 1}");
            tokens.Add(token);
            start = end + 1;
        }
        foreach (var special in new[] { "[UNK]", "[CLS]", "[SEP]", "[PAD]" })
            if (!seen.ContainsKey(special))
                throw new ModelFormatException(sourceName, bytes.Length, $"the special token {special} in the vocabulary, found none");
        return [.. tokens];
    }
}
