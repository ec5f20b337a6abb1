namespace SpecializedInfer.Tokenization.PreTokenization;

/// <summary>The word splitting rules this library implements, by what llama.cpp calls them.</summary>
internal enum PreTokenizerRules
{
    /// <summary>GPT-2's regex (llama.cpp's LLAMA_VOCAB_PRE_TYPE_GPT2).</summary>
    Gpt2,

    /// <summary>Every digit alone, then GPT-2's regex (STARCODER, SMOLLM).</summary>
    DigitsThenGpt2,

    /// <summary>Llama 3's regex: digits in threes, contractions in any case (LLAMA3).</summary>
    Llama3,

    /// <summary>Llama 3's regex with single digits (QWEN2).</summary>
    Qwen2,
}

/// <summary>
/// A GGUF's <c>tokenizer.ggml.pre</c> as llama.cpp's vocabulary loader reads it: the splitting rules, and the flags the
/// name switches (whole words that are tokens skip the merges; BOS added by default; spaces cleaned up when detokenizing).
/// Only the names whose rules this library implements are known; any other is refused, as llama.cpp refuses names it
/// does not know.
/// </summary>
internal sealed record BpePreTokenizer(string Name, PreTokenizerRules Rules, bool IgnoreMerges, bool AddBosByDefault, bool CleanSpaces)
{
    private static readonly BpePreTokenizer[] Known =
    [
        // LLAMA3: ignore_merges, add_bos.
        .. new[] { "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2" }
            .Select(n => new BpePreTokenizer(n, PreTokenizerRules.Llama3, IgnoreMerges: true, AddBosByDefault: true, CleanSpaces: true)),
        // DBRX and SMAUG: Llama 3's regex without its flags.
        new("dbrx", PreTokenizerRules.Llama3, false, false, true),
        new("smaug-bpe", PreTokenizerRules.Llama3, false, false, true),
        // QWEN2.
        new("qwen2", PreTokenizerRules.Qwen2, false, false, CleanSpaces: false),
        new("deepseek-r1-qwen", PreTokenizerRules.Qwen2, false, false, CleanSpaces: false),
        new("megrez", PreTokenizerRules.Qwen2, false, false, CleanSpaces: true),
        new("stablelm2", PreTokenizerRules.Qwen2, false, false, CleanSpaces: true),
        // GPT2.
        .. new[] { "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "mpt", "olmo", "jais", "exaone4" }
            .Select(n => new BpePreTokenizer(n, PreTokenizerRules.Gpt2, false, false, CleanSpaces: true)),
        // SMOLLM, STARCODER and the others that split digits first.
        new("smollm", PreTokenizerRules.DigitsThenGpt2, false, false, CleanSpaces: false),
        new("command-r", PreTokenizerRules.DigitsThenGpt2, false, false, CleanSpaces: false),
        .. new[] { "starcoder", "refact", "codeshell", "exaone", "minerva-7b" }
            .Select(n => new BpePreTokenizer(n, PreTokenizerRules.DigitsThenGpt2, false, false, CleanSpaces: true)),
    ];

    /// <summary>Every name <see cref="ForName"/> knows, for messages.</summary>
    public static IReadOnlyList<string> Names { get; } = Known.Select(k => k.Name).ToArray();

    /// <summary>The pre-tokenizer llama.cpp runs for <paramref name="name"/>, or null for one not implemented here.</summary>
    public static BpePreTokenizer? ForName(string name) => Array.Find(Known, k => k.Name == name);

    /// <summary>Appends the word lengths (in code points) of <paramref name="codepoints"/> to <paramref name="words"/>.</summary>
    public void Split(ReadOnlySpan<int> codepoints, List<int> words)
    {
        switch (Rules)
        {
            case PreTokenizerRules.Gpt2:
                Gpt2Split.Split(codepoints, 0, codepoints.Length, words);
                break;
            case PreTokenizerRules.Llama3:
                Llama3Split.Split(codepoints, 0, codepoints.Length, words);
                break;
            case PreTokenizerRules.Qwen2:
                Qwen2Split.Split(codepoints, 0, codepoints.Length, words);
                break;
            case PreTokenizerRules.DigitsThenGpt2:
                var pieces = new List<(int Start, int End)>();
                DigitSplit.Split(codepoints, 0, codepoints.Length, pieces);
                foreach (var (start, end) in pieces) Gpt2Split.Split(codepoints, start, end, words);
                break;
            default:
                throw new InvalidOperationException($"Unknown pre-tokenizer rules {Rules}.");
        }
    }
}
