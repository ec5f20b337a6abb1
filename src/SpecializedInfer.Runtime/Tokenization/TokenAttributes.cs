using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tokenization;

/// <summary>llama.cpp's per-token attributes (llama_token_attr, without the strip flags); a GGUF token type maps to one.</summary>
[Flags]
internal enum TokenAttr
{
    Undefined = 0,
    Unknown = 1 << 0,
    Unused = 1 << 1,
    Normal = 1 << 2,
    Control = 1 << 3,
    UserDefined = 1 << 4,
    Byte = 1 << 5,
}

/// <summary>
/// What llama.cpp's vocabulary loader (<c>llama_vocab::impl::load</c>) decides about every token beyond its stored
/// type: the end-of-turn and fill-in-the-middle markers it recognises by their text and forces to CONTROL, the set of
/// end-of-generation tokens, and its model-family exceptions (gpt-oss's channel markers rendered as user-defined text,
/// "&lt;|end|&gt;" not ending a turn when "&lt;|return|&gt;" and "&lt;|call|&gt;" exist, "&lt;/s&gt;" an ordinary token
/// beside Gemma 4's "&lt;|tool_response&gt;"). Shared by both tokenizers, so a chat vocabulary stops and renders the
/// same whichever model type carries it.
/// </summary>
/// <remarks>
/// Not reproduced: the strip attributes llama.cpp sets by model name (Phi-3, Jina, ModernBERT), and the order in which
/// it picks a fill-in-the-middle id when a vocabulary holds two spellings of the same marker (it walks a hash map;
/// here every spelling present is promoted and the lowest id is the marker).
/// </remarks>
internal sealed class TokenAttributes
{
    /// <summary>Texts llama.cpp treats as end of generation (and forces to CONTROL), the list in llama_vocab::impl::load.</summary>
    private static readonly HashSet<string> EndOfGenerationTexts = new(StringComparer.Ordinal)
    {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    };

    /// <summary>gpt-oss's markers, which llama.cpp always renders (USER_DEFINED) whatever the file says.</summary>
    private static readonly HashSet<string> AlwaysRenderedTexts = new(StringComparer.Ordinal)
    {
        "<|channel|>", "<|message|>", "<|start|>", "<|constrain|>",
    };

    /// <summary>Fill-in-the-middle slots: the keys that name them and the texts llama.cpp recognises otherwise.</summary>
    private static readonly (string[] Keys, string[] Texts, bool EndsGeneration)[] FimSlots =
    [
        (["tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id"],
            ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"], false),
        (["tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id"],
            ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"], false),
        (["tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id"],
            ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"], false),
        (["tokenizer.ggml.fim_pad_token_id"], ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"], true),
        (["tokenizer.ggml.fim_rep_token_id"], ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"], true),
        (["tokenizer.ggml.fim_sep_token_id"], ["<|file_sep|>"], true),
    ];

    private readonly HashSet<int> _endOfGeneration;

    private TokenAttributes(TokenAttr[] attrs, HashSet<int> endOfGeneration)
    {
        Attrs = attrs;
        _endOfGeneration = endOfGeneration;
    }

    /// <summary>Each token's attributes, after llama.cpp's promotions.</summary>
    public TokenAttr[] Attrs { get; }

    public bool IsEndOfGeneration(int id) => _endOfGeneration.Contains(id);

    /// <summary>llama.cpp's mapping of a GGUF token type (1 normal ... 6 byte; anything else is "undefined").</summary>
    public static TokenAttr FromType(int type) => type switch
    {
        1 => TokenAttr.Normal,
        2 => TokenAttr.Unknown,
        3 => TokenAttr.Control,
        4 => TokenAttr.UserDefined,
        5 => TokenAttr.Unused,
        6 => TokenAttr.Byte,
        _ => TokenAttr.Undefined,
    };

    /// <param name="texts">Token texts, empty ones already renamed "[EMPTY_i]".</param>
    /// <param name="types">GGUF token types.</param>
    /// <param name="eosId">The EOS id or -1; it always ends generation.</param>
    /// <param name="file">The GGUF file, for the EOT/EOM/FIM id keys; null when built from arrays (no keys).</param>
    public static TokenAttributes Resolve(IReadOnlyList<string> texts, IReadOnlyList<int> types, int eosId, GgufFile? file)
    {
        var n = texts.Count;
        var attrs = new TokenAttr[n];
        var idByText = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (var i = 0; i < n; i++)
        {
            attrs[i] = FromType(types[i]);
            idByText.TryAdd(texts[i], i);
        }

        var endOfGeneration = new HashSet<int>();
        foreach (var (keys, candidates, endsGeneration) in FimSlots)
        {
            var id = keys.Select(k => KeyId(file, k, n)).FirstOrDefault(v => v >= 0, -1);
            if (id < 0)
            {
                foreach (var text in candidates)
                {
                    if (!idByText.TryGetValue(text, out var found)) continue;
                    attrs[found] |= TokenAttr.Control;
                    id = id < 0 ? found : Math.Min(id, found);
                }
            }
            if (endsGeneration && id >= 0) endOfGeneration.Add(id);
        }

        for (var i = 0; i < n; i++)
        {
            if (!EndOfGenerationTexts.Contains(texts[i])) continue;
            endOfGeneration.Add(i);
            attrs[i] |= TokenAttr.Control;
        }
        for (var i = 0; i < n; i++)
            if (AlwaysRenderedTexts.Contains(texts[i])) attrs[i] = TokenAttr.UserDefined;

        if (eosId >= 0) endOfGeneration.Add(eosId);
        foreach (var key in new[] { "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id" })
            if (KeyId(file, key, n) is var id and >= 0) endOfGeneration.Add(id);

        // gpt-oss and Solar Open: "<|end|>" closes a message, not the generation, when the vocabulary has both
        // "<|return|>" and "<|call|>" ("<|calls|>" and "<|flush|>").
        bool Ends(string text) => idByText.TryGetValue(text, out var id) && endOfGeneration.Contains(id);
        var hasCall = Ends("<|call|>") || Ends("<|calls|>");
        if (Ends("<|end|>") && hasCall && (Ends("<|return|>") || Ends("<|flush|>")))
        {
            var end = idByText["<|end|>"];
            endOfGeneration.Remove(end);
            attrs[end] = TokenAttr.UserDefined;
        }
        // Gemma 4 and PaddleOCR: beside "<|tool_response>", "</s>" is text.
        if (Ends("<|tool_response>") && Ends("</s>"))
        {
            var s = idByText["</s>"];
            endOfGeneration.Remove(s);
            attrs[s] = TokenAttr.Normal;
        }
        return new TokenAttributes(attrs, endOfGeneration);
    }

    /// <summary>An id key's value, or -1 when absent or out of the vocabulary (llama.cpp then keeps its default).</summary>
    private static int KeyId(GgufFile? file, string key, int vocabSize) =>
        file?.Find(key) is { } v && v.TryGetInteger(out var id) && id >= 0 && id < vocabSize ? (int)id : -1;
}
