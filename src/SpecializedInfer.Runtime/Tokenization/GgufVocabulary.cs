using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tokenization;

/// <summary>
/// The <c>tokenizer.ggml.*</c> keys both tokenizers read, and how: each missing or malformed value is a
/// <see cref="GgufFormatException"/> at its key's offset, each out-of-range id a sentence naming the id and the range.
/// </summary>
internal static class GgufVocabulary
{
    public const string ModelKey = "tokenizer.ggml.model";
    public const string TokensKey = "tokenizer.ggml.tokens";
    public const string TokenTypeKey = "tokenizer.ggml.token_type";
    public const string BosKey = "tokenizer.ggml.bos_token_id";
    public const string EosKey = "tokenizer.ggml.eos_token_id";
    public const string AddBosKey = "tokenizer.ggml.add_bos_token";
    public const string AddEosKey = "tokenizer.ggml.add_eos_token";
    public const string AddSpacePrefixKey = "tokenizer.ggml.add_space_prefix";

    /// <summary>Requires <c>tokenizer.ggml.model</c> to be <paramref name="model"/> (<paramref name="kind"/> says what that is).</summary>
    public static void RequireModel(GgufFile file, string model, string kind)
    {
        var found = file.GetString(ModelKey);
        if (found != model)
            throw new GgufFormatException(file.FilePath, file.Find(ModelKey)!.Offset, $"'{ModelKey}' to be \"{model}\" ({kind}), found \"{found}\"");
    }

    /// <summary>The token texts (non-empty) and the offset of their key.</summary>
    public static (string[] Tokens, long Offset) Tokens(GgufFile file)
    {
        var tokens = file.GetArray<string>(TokensKey);
        var offset = file.Find(TokensKey)!.Offset;
        if (tokens.Length == 0) throw new GgufFormatException(file.FilePath, offset, $"a non-empty '{TokensKey}'");
        return (tokens, offset);
    }

    /// <summary>The token types, one per token; every token normal when the key is absent.</summary>
    public static int[] Types(GgufFile file, int vocabSize)
    {
        var types = new int[vocabSize];
        Array.Fill(types, 1);
        if (file.Find(TokenTypeKey) is not { } value) return types;
        types = file.GetArray<int>(TokenTypeKey);
        if (types.Length != vocabSize)
            throw new GgufFormatException(file.FilePath, value.Offset, $"'{TokenTypeKey}' to have one entry per token ({vocabSize}), found {types.Length}");
        return types;
    }

    /// <summary>Duplicate texts or a malformed byte token: the token list itself is at fault.</summary>
    public static void CheckTokens(GgufFile file, string[] tokens, int[] types, long tokensAt)
    {
        if (Models.LlamaModelRules.CheckTokens(tokens, types) is { } broken)
            throw new GgufFormatException(file.FilePath, tokensAt, broken.Expected);
    }

    /// <summary>An id key; <paramref name="fallback"/> (llama.cpp's default, dropped if outside the vocabulary) when absent.</summary>
    public static int SpecialId(GgufFile file, string key, int fallback, int vocabSize)
    {
        if (file.Find(key) is null) return fallback < vocabSize ? fallback : -1;
        return (int)file.GetInteger(key, 0, vocabSize - 1);
    }

    /// <summary>A bool key, or null when absent.</summary>
    public static bool? OptionalBool(GgufFile file, string key) => file.Find(key) switch
    {
        null => null,
        { Value: bool b } => b,
        var v => throw new GgufFormatException(file.FilePath, v.Offset, $"'{key}' to be a bool, found {v.Type}"),
    };

    /// <summary>An add_bos/add_eos flag (<paramref name="fallback"/> when absent); on, it needs the token it adds.</summary>
    public static bool AddFlag(GgufFile file, string key, bool fallback, int id, string token, long tokensAt)
    {
        var on = OptionalBool(file, key) ?? fallback;
        if (on && id < 0)
            throw new GgufFormatException(file.FilePath, file.Find(key)?.Offset ?? tokensAt, $"{token} token id, since '{key}' is true");
        return on;
    }

    /// <summary>A constructor's check of a special id: a token id, or -1 for none.</summary>
    public static void CheckId(int id, int vocabSize, string role)
    {
        if (id < -1 || id >= vocabSize)
            throw new ArgumentOutOfRangeException($"The {role} is {id}; it must be a token id from 0 to {vocabSize - 1}, or -1 for none.", innerException: null);
    }

    /// <summary>A token id passed to a tokenizer's method must lie in the vocabulary.</summary>
    public static void CheckToken(int id, int vocabSize)
    {
        if ((uint)id >= (uint)vocabSize)
            throw new ArgumentOutOfRangeException($"Token id {id} is outside the vocabulary: ids run from 0 to {vocabSize - 1}.", innerException: null);
    }
}
