using System.Globalization;
using System.Text;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Models;

/// <summary>
/// A rule a model breaks: the GGUF metadata key or tensor it concerns, and what was expected there (with what was
/// found), phrased to follow "expected" in a <see cref="ModelFormatException"/>. For a vocabulary rule about one
/// token, <see cref="Token"/> is its id and <see cref="Sentence"/> says what is wrong on its own.
/// </summary>
public sealed record ModelRuleViolation(string Key, string Expected)
{
    public int? Token { get; init; }
    public string? Sentence { get; init; }
}

/// <summary>
/// What a LLaMA model must satisfy to load, in one place. The loader checks files with it (<see cref="LlamaConfig.FromGguf"/>,
/// <see cref="Tokenization.LlamaTokenizer"/>), and <see cref="Conversion.Llama2cConverter"/> checks what it is about to
/// write, so the converter never writes a file the loader then refuses. Each check returns the first rule broken, or
/// null; callers turn it into an exception at their own file and offset.
/// </summary>
public static class LlamaModelRules
{
    public const string ArchitectureKey = "general.architecture";
    public const string TokensKey = "tokenizer.ggml.tokens";
    public const string EmbeddingTensor = "token_embd.weight";

    /// <summary>GGUF token type of a byte-fallback token (text &lt;0xNN&gt;).</summary>
    public const int ByteTokenType = 6;

    /// <summary>The metadata key of a per-architecture property, as the loader reads it ("llama.block_count", "qwen2.block_count").</summary>
    public static string Key(string architecture, string suffix) => architecture + "." + suffix;

    /// <summary>
    /// Sizes within <see cref="ModelLimits"/> (the query's heads × head width too), KV heads that divide the heads, an even
    /// rotary count of at most the head width, finite positive epsilon and base. Whether heads must divide dim depends on
    /// whether the file gives the head width (<see cref="LlamaConfig.FromGguf"/>).
    /// <paramref name="embeddingTensor"/> is the token embedding's name in the file (a manifest may rename it).
    /// </summary>
    public static ModelRuleViolation? CheckTopology(LlamaConfig c, string embeddingTensor = EmbeddingTensor)
    {
        string Key(string suffix) => LlamaModelRules.Key(c.Architecture, suffix);
        ModelRuleViolation? Range(string suffix, long value, long min, long max) =>
            Unless(value >= min && value <= max, Key(suffix), $"'{Key(suffix)}' between {min} and {max}, found {value}");

        return Range("embedding_length", c.Dim, 1, ModelLimits.MaxWidth)
            ?? Range("feed_forward_length", c.HiddenDim, 1, ModelLimits.MaxWidth)
            ?? Range("block_count", c.Layers, 1, ModelLimits.MaxLayers)
            ?? Range("attention.head_count", c.Heads, 1, ModelLimits.MaxHeads)
            ?? Range("attention.head_count_kv", c.KvHeads, 1, ModelLimits.MaxHeads)
            ?? Unless(c.Heads % c.KvHeads == 0, Key("attention.head_count_kv"),
                $"'{Key("attention.head_count_kv")}' to hold a KV head count dividing head_count {c.Heads}, found {c.KvHeads}")
            ?? Range("attention.key_length", c.HeadDim, 1, ModelLimits.MaxWidth)
            // The query (heads × head width) is a row of widths like any other: within the same limit.
            ?? Unless((long)c.Heads * c.HeadDim <= ModelLimits.MaxWidth, Key("attention.key_length"),
                $"'{Key("attention.key_length")}' to hold a head width whose {c.Heads} heads are at most {ModelLimits.MaxWidth} wide, found {c.HeadDim}")
            ?? Unless(c.RotaryDims >= 0 && c.RotaryDims <= c.HeadDim && c.RotaryDims % 2 == 0, Key("rope.dimension_count"),
                $"'{Key("rope.dimension_count")}' to hold an even rotary dimension count of at most the head dimension {c.HeadDim}, found {c.RotaryDims}")
            // Rotary frequencies are base^(-2i/d): a base that is not a positive finite number makes every position NaN.
            ?? Unless(c.RopeTheta > 0 && float.IsFinite(c.RopeTheta), Key("rope.freq_base"),
                $"'{Key("rope.freq_base")}' to hold a positive finite number, found {c.RopeTheta:R}")
            // The manifest's rule (SI0028), so that a manifest written from any loadable file reads back.
            ?? Unless(c.NormEps > 0 && c.NormEps < 1, Key("attention.layer_norm_rms_epsilon"),
                $"'{Key("attention.layer_norm_rms_epsilon")}' to hold an epsilon between 0 and 1 (exclusive), found {c.NormEps:R}")
            ?? Unless(c.VocabSize >= 1 && c.VocabSize <= ModelLimits.MaxVocabulary, embeddingTensor,
                $"'{embeddingTensor}' with between 1 and {ModelLimits.MaxVocabulary} rows (the vocabulary), found {c.VocabSize}")
            ?? Range("context_length", c.ContextLength, 1, ModelLimits.MaxContextLength);
    }

    /// <summary>
    /// A file without <c>attention.key_length</c> has heads dim / heads wide, so the heads must divide dim (the llama2.c
    /// converter's files always derive the width this way).
    /// </summary>
    public static ModelRuleViolation? CheckDerivedHeadWidth(string architecture, int dim, int heads) =>
        Unless(heads > 0 && dim % heads == 0, Key(architecture, "attention.head_count"),
            $"'{Key(architecture, "attention.head_count")}' to hold a head count dividing embedding_length {dim} (or '{Key(architecture, "attention.key_length")}' to give the head width), found {heads}");

    /// <summary>Keys and values of one width: value rows as wide as key rows (llama.cpp's llama and qwen2 graphs assert the same).</summary>
    public static ModelRuleViolation? CheckValueWidth(string architecture, int keyWidth, int valueWidth) =>
        Unless(valueWidth == keyWidth, Key(architecture, "attention.value_length"),
            $"'{Key(architecture, "attention.value_length")}' equal to the key width {keyWidth}: value heads of another width than key heads are not supported, found {valueWidth}");

    private static ModelRuleViolation? Unless(bool holds, string key, FormattableString expected) =>
        holds ? null : new ModelRuleViolation(key, F(expected));

    /// <summary>
    /// No tensor of a layer at or past <paramref name="layers"/>: a block count smaller than the layers present would
    /// silently run fewer layers than the file holds. A layer tensor is one named <c>blk.N.*</c> (GGUF's convention)
    /// or, with <paramref name="names"/> from a manifest that renames tensors, one matching a per-layer pattern.
    /// </summary>
    public static ModelRuleViolation? CheckLayerTensors(IEnumerable<string> tensorNames, int layers, TensorNames? names = null, string architecture = DecoderArchitecture.Llama)
    {
        string Key(string suffix) => LlamaModelRules.Key(architecture, suffix);
        var patterns = names is null || names == TensorNames.Gguf ? [] : PerLayerPatterns(names);
        foreach (var name in tensorNames)
        {
            var layer = GgufLayerOf(name) ?? patterns.Select(p => LayerOf(name, p)).FirstOrDefault(l => l is not null);
            if (layer >= layers)
                return new ModelRuleViolation(Key("block_count"),
                    F($"'{Key("block_count")}' to count every layer in the tensor table, found {layers} while the file has tensors of layer {layer} ('{name}')"));
        }
        return null;
    }

    /// <summary>The per-layer tensor names of a manifest, each with its <c>{layer}</c> placeholder.</summary>
    public static IReadOnlyList<string> PerLayerPatterns(TensorNames n) =>
        [n.AttentionNorm, n.Query, n.Key, n.Value, n.AttentionOutput, n.FeedForwardNorm, n.Gate, n.Up, n.Down];

    private static int? GgufLayerOf(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return null;
        var end = name.IndexOf('.', 4);
        return end > 4 && int.TryParse(name.AsSpan(4, end - 4), NumberStyles.None, CultureInfo.InvariantCulture, out var layer) ? layer : null;
    }

    /// <summary>The layer a tensor name holds in a pattern's <c>{layer}</c> place (decimal digits), or null when it does not match.</summary>
    private static int? LayerOf(string name, string pattern)
    {
        var at = pattern.IndexOf("{layer}", StringComparison.Ordinal);
        if (at < 0) return null;
        var prefix = pattern.AsSpan(0, at);
        var suffix = pattern.AsSpan(at + "{layer}".Length);
        if (name.Length <= prefix.Length + suffix.Length || !name.AsSpan().StartsWith(prefix, StringComparison.Ordinal)
            || !name.AsSpan().EndsWith(suffix, StringComparison.Ordinal)) return null;
        var digits = name.AsSpan(prefix.Length, name.Length - prefix.Length - suffix.Length);
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var layer) ? layer : null;
    }

    /// <summary>One token per row of the embedding: a token past the rows has no vector, a row past the tokens no text.</summary>
    public static ModelRuleViolation? CheckVocabularySize(int tokens, int embeddingRows, string embeddingTensor = EmbeddingTensor) =>
        tokens == embeddingRows ? null
        : new ModelRuleViolation(TokensKey, F($"'{TokensKey}' to hold one token per row of '{embeddingTensor}' ({embeddingRows} rows), found {tokens} tokens"));

    /// <summary>
    /// Token texts that are distinct once llama.cpp's renaming of empty texts to "[EMPTY_i]" is applied (compared as
    /// UTF-8, as the tokenizer looks them up), and byte tokens spelt exactly &lt;0xNN&gt;.
    /// </summary>
    public static ModelRuleViolation? CheckTokens(IReadOnlyList<string> tokens, IReadOnlyList<int> tokenTypes)
    {
        var firstId = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (var i = 0; i < tokens.Count; i++)
        {
            var text = TokenText(tokens[i], i);
            var key = Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(text)); // one char per UTF-8 byte
            if (!firstId.TryAdd(key, i))
                return new ModelRuleViolation(TokensKey, F($"distinct token texts in '{TokensKey}', found the duplicate '{Echo(text)}' at ids {firstId[key]} and {i}"))
                {
                    Token = i,
                    Sentence = F($"Duplicate token text '{Echo(text)}' at ids {firstId[key]} and {i}."),
                };
            if (i < tokenTypes.Count && tokenTypes[i] == ByteTokenType && ByteTokenValue(text) is null)
                return new ModelRuleViolation(TokensKey, F($"byte token {i} (type {ByteTokenType}) spelt <0xNN> with two hex digits, found '{Echo(text)}'"))
                {
                    Token = i,
                    Sentence = F($"Byte token {i} is '{Echo(text)}', not of the form <0xNN>."),
                };
        }
        return null;
    }

    /// <summary>The text a token goes by: llama.cpp renames an empty one so that every token keeps a distinct text.</summary>
    public static string TokenText(string text, int id) => text.Length == 0 ? F($"[EMPTY_{id}]") : text;

    /// <summary>The byte a byte token stands for: exactly "&lt;0x" two hex digits (either case) "&gt;", else null.</summary>
    public static byte? ByteTokenValue(string text)
    {
        static int Hex(char c) => c switch
        {
            >= '0' and <= '9' => c - '0',
            >= 'a' and <= 'f' => c - 'a' + 10,
            >= 'A' and <= 'F' => c - 'A' + 10,
            _ => -1,
        };
        if (text is not ['<', '0', 'x', var hi, var lo, '>'] || Hex(hi) < 0 || Hex(lo) < 0) return null;
        return (byte)(Hex(hi) << 4 | Hex(lo));
    }

    private static string Echo(string text) => text.Length <= 40 ? text : text[..39] + "\u2026";

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
