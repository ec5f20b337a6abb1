using System.Globalization;
using System.Text;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tokenization;

/// <summary>
/// Hugging Face's uncased <c>BertTokenizer</c> (BasicTokenizer + WordpieceTokenizer, <c>do_lower_case</c>),
/// reproduced: control characters, U+0000 and U+FFFD dropped; whitespace (space, tab, newline, carriage return, Zs)
/// and the other separators Python's <c>str.split</c> splits on end words; CJK ideographs become words of their own;
/// words are lower-cased, then accents stripped (NFD, non-spacing marks dropped); ASCII and Unicode punctuation
/// split off as single-character words; each word is WordPiece-encoded greedily longest-first with <c>##</c>
/// continuations, and becomes one [UNK] when longer than <see cref="MaxWordLength"/> characters or when any part
/// of it has no piece. A sentence is [CLS] + at most <see cref="MaxPieces"/> pieces + [SEP], token types 0.
/// </summary>
public sealed class BertTokenizer
{
    /// <summary>Words longer than this many characters (code points) become [UNK] (BERT's max_input_chars_per_word).</summary>
    public const int MaxWordLength = 100;

    private readonly Dictionary<string, int> _initial = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _continuation = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _initialLookup;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _continuationLookup;

    /// <summary>A tokenizer over a vocab.txt-style vocabulary (continuations spelt <c>##piece</c>).</summary>
    public BertTokenizer(IReadOnlyList<string> vocabulary, int maxLength = 512)
    {
        if (maxLength < 3) throw new ArgumentOutOfRangeException($"A sentence needs room for [CLS], a token and [SEP]: at least 3 tokens, not {maxLength}.", innerException: null);
        Vocabulary = vocabulary;
        for (var i = 0; i < vocabulary.Count; i++)
        {
            var t = vocabulary[i];
            if (t.StartsWith("##", StringComparison.Ordinal)) _continuation.TryAdd(t[2..], i);
            else _initial.TryAdd(t, i);
        }
        _initialLookup = _initial.GetAlternateLookup<ReadOnlySpan<char>>();
        _continuationLookup = _continuation.GetAlternateLookup<ReadOnlySpan<char>>();
        int Special(string token) => _initial.TryGetValue(token, out var id) ? id
            : throw new ArgumentException($"The vocabulary has no {token} token.");
        ClsToken = Special("[CLS]");
        SepToken = Special("[SEP]");
        UnknownToken = Special("[UNK]");
        PadToken = _initial.GetValueOrDefault("[PAD]", 0);
        MaxPieces = maxLength - 2;
    }

    /// <summary>
    /// The tokenizer of a BERT GGUF: llama.cpp's "phantom space" vocabulary (word-initial pieces start with U+2581,
    /// continuations are bare, control tokens as they are) turned back into vocab.txt form.
    /// </summary>
    public static BertTokenizer FromGguf(GgufFile file, int maxLength)
    {
        var tokens = file.GetArray<string>("tokenizer.ggml.tokens");
        var types = file.Find("tokenizer.ggml.token_type") is null ? null : file.GetArray<int>("tokenizer.ggml.token_type");
        var vocabulary = new string[tokens.Length];
        for (var i = 0; i < tokens.Length; i++)
        {
            var t = tokens[i];
            vocabulary[i] = types is not null && types[i] == 3 ? t : t.StartsWith('\u2581') ? t[1..] : "##" + t;
        }
        return new BertTokenizer(vocabulary, maxLength);
    }

    public IReadOnlyList<string> Vocabulary { get; }
    public int ClsToken { get; }
    public int SepToken { get; }
    public int UnknownToken { get; }
    public int PadToken { get; }

    /// <summary>The most pieces a sentence keeps between [CLS] and [SEP] (the model's positions minus two).</summary>
    public int MaxPieces { get; }

    /// <summary>[CLS] + the text's pieces (the first <see cref="MaxPieces"/>) + [SEP].</summary>
    public int[] Encode(string text)
    {
        var pieces = new List<int>(text.Length / 3 + 2) { ClsToken };
        foreach (var word in Words(text))
        {
            Pieces(word, pieces);
            if (pieces.Count > MaxPieces) break;
        }
        if (pieces.Count > MaxPieces + 1) pieces.RemoveRange(MaxPieces + 1, pieces.Count - MaxPieces - 1);
        pieces.Add(SepToken);
        return [.. pieces];
    }

    /// <summary>The text's pieces, without [CLS], [SEP] or truncation.</summary>
    public List<int> EncodeWithoutSpecialTokens(string text)
    {
        var pieces = new List<int>();
        foreach (var word in Words(text)) Pieces(word, pieces);
        return pieces;
    }

    /// <summary>BasicTokenizer: the normalized words of <paramref name="text"/>, punctuation and CJK as words of their own.</summary>
    public static IEnumerable<string> Words(string text)
    {
        var word = new StringBuilder();
        var folded = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            var cp = rune.Value;
            if (IsWhitespace(rune)) { if (word.Length > 0) { yield return word.ToString(); word.Clear(); } continue; }
            if (cp is 0 or 0xFFFD || IsControl(rune)) continue;
            // lower-case, strip accents, lower-case again: .NET's invariant casing leaves U+0130 (İ) alone, Python's
            // lower() makes it "i̇", so after dropping the dot both give "i".
            folded.Clear();
            AccentFolding.Append(folded, Rune.ToLowerInvariant(rune));
            foreach (var r in folded.ToString().EnumerateRunes())
            {
                var lower = Rune.ToLowerInvariant(r);
                if (IsPunctuation(lower) || IsCjk(rune.Value))
                {
                    if (word.Length > 0) { yield return word.ToString(); word.Clear(); }
                    yield return lower.ToString();
                }
                else word.Append(lower.ToString());
            }
        }
        if (word.Length > 0) yield return word.ToString();
    }

    /// <summary>WordpieceTokenizer: greedy longest-match-first pieces of one word, or [UNK].</summary>
    private void Pieces(string word, List<int> output)
    {
        var runes = 0;
        foreach (var _ in word.EnumerateRunes()) if (++runes > MaxWordLength) { output.Add(UnknownToken); return; }
        var start0 = output.Count;
        var span = word.AsSpan();
        var start = 0;
        while (start < span.Length)
        {
            var end = span.Length;
            var found = -1;
            while (end > start)
            {
                var piece = span[start..end];
                if ((start == 0 ? _initialLookup : _continuationLookup).TryGetValue(piece, out var id)) { found = id; break; }
                end--;
                if (end > start && char.IsLowSurrogate(span[end])) end--; // never split a surrogate pair
            }
            if (found < 0)
            {
                output.RemoveRange(start0, output.Count - start0);
                output.Add(UnknownToken);
                return;
            }
            output.Add(found);
            start = end;
        }
    }

    /// <summary>Python's str.split() separators that BERT keeps (space, \t, \n, \r, Zs, U+2028, U+2029, U+001C–U+001F are dropped as controls first).</summary>
    private static bool IsWhitespace(Rune r) =>
        r.Value is ' ' or '\t' or '\n' or '\r' or 0x2028 or 0x2029 || Rune.GetUnicodeCategory(r) == UnicodeCategory.SpaceSeparator;

    /// <summary>BERT's _is_control: every category C (Cc, Cf, Cs, Co, Cn) except tab, newline and carriage return.</summary>
    private static bool IsControl(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    /// <summary>BERT's _is_punctuation: the ASCII non-alphanumeric symbols, and every Unicode category P.</summary>
    private static bool IsPunctuation(Rune r)
    {
        var cp = r.Value;
        if (cp is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>BERT's _is_chinese_char: the CJK Unified Ideographs blocks and their compatibility blocks.</summary>
    private static bool IsCjk(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
