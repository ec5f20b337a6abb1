using System.Text;

namespace SpecializedInfer.Tests.Encoders;

/// <summary>
/// The WordPiece tokenizer against llama.cpp's (WPM) on the converted GGUF. llama.cpp follows Hugging Face's
/// BertTokenizer except in three places (each checked below to differ), where this tokenizer follows Hugging Face and
/// the test gives llama.cpp the text Hugging Face's rules turn the input into: a word over 100 characters is [UNK];
/// vertical tab, form feed, U+001C–U+001F and U+0085 are control characters (dropped; llama.cpp splits words there);
/// Hangul syllables decompose into all their jamo (llama.cpp keeps the first). And llama.cpp does not truncate:
/// [CLS] + 510 pieces + [SEP] is checked against its first 511 tokens.
/// </summary>
[Collection(MiniLmCollection.Name)]
public sealed class BertTokenizerOracleTests(MiniLm m)
{
    private static readonly string[] Handwritten =
    [
        "", " ", "   \t\n  ", "hello", "Hello, World!", "HELLO WORLD", "hello\tworld\nnew line\r\nwindows",
        "Café Müller naïve façade Ångström Łódź São Paulo crème brûlée", "Αθήνα είναι όμορφη", "Привет, мир!",
        "Tiếng Việt có dấu", "ÀÉÎÕÜ àéîõü ÇçÑñ", "İstanbul", "straße STRASSE", "ﬁnancial ﬂow", "Ⅻ ① ²³",
        "你好世界", "東京都は日本の首都です", "I love 北京 and 東京!", "こんにちは世界", "カタカナ", "中文English混合text",
        "I ❤️ NY 🍕🍕", "👍🏽 thumbs", "emoji😀inside😀words", "🇫🇷 flag", "$100 = 5+5", "<tag> a_b c~d `e` {f} [g] |h| ^i^ @j #k %l &m *n",
        "don't stop", "U.S.A.", "e-mail", "state-of-the-art", "3.14159", "1,000,000", "x^2 + y^2 = z^2", "a/b\\c",
        "“quoted” ‘single’ «guillemets» „low“", "em—dash en–dash", "ellipsis… done", "¿Qué? ¡Sí!", "¡", "§ ¶ † ‡ •",
        "price: €5, £3, ¥100, ₹20", "50% off!!!", "#hashtag @mention", "http://example.com/path?q=1&r=2", "user@example.com",
        "zero\u200bwidth", "nul\u0000char", "bell\u0007char", "soft\u00adhyphen", "replacement\ufffdchar", "nbsp\u00a0space",
        "ideographic\u3000space", "thin\u2009space", "line\u2028separator", "para\u2029separator",
        "unbelievable", "antidisestablishmentarianism", "supercalifragilisticexpialidocious", new string('a', 99) + " end",
        new string('x', 100), "Pneumonoultramicroscopicsilicovolcanoconiosis", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "[CLS] [SEP] [MASK] [UNK]", "##ing", "## hash", "...", "!!!", "?!", "a.b.c", "(parenthesized)", "\"double\"", "'single'",
        "ΣΊΣΥΦΟΣ", "ǅungla", "ĳssel", "Ǳ", "ŉ", "ﬀ", "Ω Å K", "㎏ ㎞", "ｆｕｌｌｗｉｄｔｈ", "ＡＢＣ１２３", "½ ¼ ¾",
        "Ελληνικά και Русский и 日本語", "mixed123numbers456", "CamelCaseWords", "snake_case_words", "kebab-case-words",
        "cafe\u0301 e\u0301 decomposed", "tab\tseparated\tvalues", "multiple     spaces", "trailing spaces   ", "   leading spaces",
    ];

    private static IEnumerable<string> RandomUnicode(int count, int seed)
    {
        // Blocks both tokenizers treat alike: Latin, Greek, Cyrillic, CJK, kana, punctuation, symbols, emoji, digits.
        (int From, int To)[] blocks =
        [
            (0x20, 0x7E), (0xA1, 0xFF), (0x100, 0x17F), (0x391, 0x3C9), (0x410, 0x44F), (0x4E00, 0x4FFF), (0x3041, 0x3096),
            (0x2010, 0x2027), (0x2190, 0x21FF), (0x1F600, 0x1F64F), (0x30, 0x39), (0x61, 0x7A), (0x61, 0x7A), (0x20, 0x20),
        ];
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var sb = new StringBuilder();
            var n = random.Next(1, 40);
            for (var j = 0; j < n; j++)
            {
                var (from, to) = blocks[random.Next(blocks.Length)];
                sb.Append(char.ConvertFromUtf32(random.Next(from, to + 1)));
            }
            yield return sb.ToString();
        }
    }

    public static IEnumerable<string> Corpus() =>
        Handwritten.Concat(Sentences.Varied(120, seed: 31)).Concat(RandomUnicode(120, 77));

    [Fact]
    public void Tokens_equal_llama_cpp_on_over_300_strings()
    {
        var corpus = Corpus().ToList();
        Assert.True(corpus.Count >= 300, $"{corpus.Count} strings");
        var mismatches = new List<string>();
        foreach (var text in corpus)
        {
            var ours = m.Encoder.Tokenizer.Encode(text);
            var theirs = m.LlamaCpp.Tokenize(text);
            if (!ours.SequenceEqual(theirs))
                mismatches.Add($"{Escape(text)}: ours [{string.Join(" ", ours)}], llama.cpp [{string.Join(" ", theirs)}]");
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {corpus.Count} differ:\n{string.Join("\n", mismatches.Take(20))}");
    }

    [Theory]
    [InlineData("a\u000bb", "ab")]                 // vertical tab: a control character to BERT, dropped
    [InlineData("a\u000cb c\u001fd", "ab cd")]     // form feed, unit separator
    [InlineData("next\u0085line", "nextline")]     // NEL is Cc
    [InlineData("한국어", "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165")] // Hangul: every jamo of the NFD
    public void Where_llama_cpp_differs_hugging_face_rules_hold(string text, string huggingFaceEquivalent)
    {
        Assert.NotEqual(m.LlamaCpp.Tokenize(huggingFaceEquivalent), m.LlamaCpp.Tokenize(text));
        Assert.Equal(m.LlamaCpp.Tokenize(huggingFaceEquivalent), m.Encoder.Tokenizer.Encode(text));
    }

    [Fact]
    public void A_word_over_100_characters_is_unknown()
    {
        var t = m.Encoder.Tokenizer;
        Assert.Equal(m.LlamaCpp.Tokenize(new string('b', 100)), t.Encode(new string('b', 100)));
        Assert.Equal([t.ClsToken, t.UnknownToken, t.SepToken], t.Encode(new string('b', 101)));
        Assert.NotEqual([t.ClsToken, t.UnknownToken, t.SepToken], m.LlamaCpp.Tokenize(new string('b', 101)));
        // Counted in characters (code points), not UTF-16 units: 60 emoji are 120 UTF-16 units and one word.
        var emoji = string.Concat(Enumerable.Repeat("😀", 60));
        Assert.Equal(m.LlamaCpp.Tokenize(emoji), t.Encode(emoji));
    }

    [Fact]
    public void Over_long_input_keeps_510_pieces_between_cls_and_sep()
    {
        var text = string.Join(' ', Sentences.Varied(80, seed: 3));
        var theirs = m.LlamaCpp.Tokenize(text);
        Assert.True(theirs.Length > 600, $"{theirs.Length} tokens");
        var ours = m.Encoder.Tokenizer.Encode(text);
        Assert.Equal(512, ours.Length);
        Assert.Equal(theirs.Take(511).Append(102), ours);
    }

    private static string Escape(string s) =>
        string.Concat(s.Select(c => c < 0x20 || c is >= '\u007f' and <= '\u00a0' || char.IsSurrogate(c) || c > 0x2000 ? $"\\u{(int)c:x4}" : c.ToString()));
}
