using System.Text;
using SpecializedInfer.Gguf;
using SpecializedInfer.Tests.Oracles;
using SpecializedInfer.Tokenization;
using Xunit.Abstractions;

namespace SpecializedInfer.Tests.Tokenization;

/// <summary>
/// Our tokenizer and llama.cpp's (the oracle) on three vocabularies of the same 512-token size, so llama.cpp can load
/// each with stories260K's weights: the real one, a doctored one (tied scores, user-defined, unknown, unused,
/// undefined and empty tokens, a byte token retyped as normal, a control-promoted "&lt;|im_end|&gt;"), and the real one
/// with <c>tokenizer.ggml.add_space_prefix = false</c>.
/// </summary>
public sealed class TokenizerOracleFixture : IDisposable
{
    private readonly string _tempDir = Path.Combine(Path.GetTempPath(), "si-tok-" + Guid.NewGuid().ToString("N"));

    public TokenizerOracleFixture()
    {
        var path = ModelLocator.Find("stories260K.gguf");
        Directory.CreateDirectory(_tempDir);
        var doctored = Path.Combine(_tempDir, "doctored.gguf");
        var noPrefix = Path.Combine(_tempDir, "no-space-prefix.gguf");
        using (var file = GgufFile.Open(path))
        {
            Real = LlamaTokenizer.FromGguf(file);
            WriteVariant(file, doctored, DoctorVocabulary, addSpacePrefix: null);
            WriteVariant(file, noPrefix, null, addSpacePrefix: false);
        }
        RealOracle = new LlamaCppOracle(path, contextSize: 64);
        using (var file = GgufFile.Open(doctored)) Doctored = LlamaTokenizer.FromGguf(file);
        DoctoredOracle = new LlamaCppOracle(doctored, contextSize: 64);
        using (var file = GgufFile.Open(noPrefix)) NoPrefix = LlamaTokenizer.FromGguf(file);
        NoPrefixOracle = new LlamaCppOracle(noPrefix, contextSize: 64);
    }

    public LlamaTokenizer Real { get; }
    public LlamaCppOracle RealOracle { get; }
    public LlamaTokenizer Doctored { get; }
    public LlamaCppOracle DoctoredOracle { get; }
    public LlamaTokenizer NoPrefix { get; }
    public LlamaCppOracle NoPrefixOracle { get; }

    public (LlamaTokenizer Ours, LlamaCppOracle Oracle) Pick(string vocabulary) => vocabulary switch
    {
        "real" => (Real, RealOracle),
        "doctored" => (Doctored, DoctoredOracle),
        "no-space-prefix" => (NoPrefix, NoPrefixOracle),
        _ => throw new ArgumentException(vocabulary),
    };

    /// <summary>Token ids the doctored vocabulary changes (see <see cref="DoctorVocabulary"/>).</summary>
    public const int UserToken = 498, UserPrefixToken = 500, ImEndToken = 501, UnusedToken = 502, UndefinedToken = 503,
        UnknownTypeToken = 505, EmptyToken = 506, RetypedByteToken = 3 + 0xF0;

    private static void DoctorVocabulary(string[] tokens, float[] scores, int[] types)
    {
        // Coarse scores: many pairs tie, so the leftmost-first rule decides lots of merges.
        for (var i = 0; i < scores.Length; i++) scores[i] = MathF.Floor(scores[i] / 16) * 16;
        tokens[UserToken] = "<|user|>"; types[UserToken] = 4;            // was U+00A0
        tokens[UserPrefixToken] = "<|u"; types[UserPrefixToken] = 4;     // overlaps "<|user|>": longest must win
        tokens[ImEndToken] = "<|im_end|>"; types[ImEndToken] = 4;        // llama.cpp promotes it to control
        types[UnusedToken] = 5;                                          // "â"
        types[UndefinedToken] = 0;                                       // "€"
        types[UnknownTypeToken] = 2;                                     // ">"
        tokens[EmptyToken] = "";                                         // becomes "[EMPTY_506]"
        types[RetypedByteToken] = 1;                                     // "<0xF0>" as a normal token
    }

    private static void WriteVariant(GgufFile source, string path, Action<string[], float[], int[]>? doctor, bool? addSpacePrefix)
    {
        var tokens = (string[])source.GetArray<string>("tokenizer.ggml.tokens").Clone();
        var scores = (float[])source.GetArray<float>("tokenizer.ggml.scores").Clone();
        var types = (int[])source.GetArray<int>("tokenizer.ggml.token_type").Clone();
        doctor?.Invoke(tokens, scores, types);
        var writer = new GgufWriter { Alignment = source.Alignment };
        foreach (var (key, value) in source.Metadata)
        {
            writer.Add(key, key switch
            {
                "tokenizer.ggml.tokens" => GgufValue.Of(tokens),
                "tokenizer.ggml.scores" => GgufValue.Of(scores),
                "tokenizer.ggml.token_type" => GgufValue.Of(types),
                _ => value,
            });
        }
        if (addSpacePrefix is { } prefix) writer.Add("tokenizer.ggml.add_space_prefix", prefix);
        foreach (var t in source.Tensors) writer.AddTensor(t.Name, t.Dimensions, t.Type, source.GetBytes(t));
        writer.Write(path);
    }

    public void Dispose()
    {
        RealOracle.Dispose();
        DoctoredOracle.Dispose();
        NoPrefixOracle.Dispose();
        try { Directory.Delete(_tempDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

public sealed class LlamaTokenizerTests(TokenizerOracleFixture fixture, ITestOutputHelper output) : IClassFixture<TokenizerOracleFixture>
{
    private static readonly string Story =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friend Tim. " +
        "One day, they saw a big, red ball under a tree! \"Can we play with it?\" asked Lily. Tim said, \"Yes, let's play!\" " +
        "They kicked the ball high and low, and laughed all day long. When the sun went down, Mom called: \"Time to come home.\" " +
        "Lily was sad, but she was happy too. She knew they would play again tomorrow.";

    public static readonly string[] Prompts =
    [
        "",
        "a",
        "Hello",
        "Hello world",
        "Once upon a time",
        " leading space",
        "   three leading spaces",
        "trailing space ",
        "trailing spaces   ",
        "multiple   inner    spaces",
        " ",
        "   ",
        "\n",
        "line one\nline two\n\nline four",
        "tab\tseparated\tvalues",
        "\t\tindented with tabs",
        "mixed \n \t whitespace\r\n end",
        "Numbers 1234567890 and 3.14159, 42nd, 1,000,000",
        "Punctuation!?.,;:-()[]{}<>/\\|@#$%^&*_+=~`",
        "\"double quotes\" and 'single quotes' and it's",
        "“Curly quotes” and ‘apostrophes’ — em dash – en dash … ellipsis",
        "<s>",
        "<s> Hello </s> and <unk> as plain text",
        "Café naïve résumé São Paulo",
        "ÀÉÎÕÜ àéîõü ñÑ çÇ ß",
        "日本語のテキストです。",
        "中文字符测试",
        "한국어 텍스트",
        "Emoji 😀🎉👍🏽",
        "👨‍👩‍👧‍👦 family emoji",
        "Ελληνικά кириллица עברית العربية हिन्दी",
        "▁ literal U+2581 ▁▁ and ▁x",
        "non\u00A0breaking and hair\u200Aspace",
        "€100 ™ © ® ° ± µ",
        "e\u0301 combining accent",
        "zero\u200Dwidth joiner",
        "nul\u0000char",
        "Lily and Tim went to the park. They played with a big red ball!",
        "The end.\n\n\nTHE END",
        Story,
        "<|user|>Hi<|u<|user|> there <|im_end|>",
        "<|user|>",
        "a<|user|> b",
        "â€™ mojibake",
        "x > y and > z",
        "[EMPTY_506] |",
    ];

    public static IEnumerable<object[]> PromptCases() =>
        from vocabulary in new[] { "real", "doctored", "no-space-prefix" }
        from i in Enumerable.Range(0, Prompts.Length)
        select new object[] { vocabulary, i };

    public static IEnumerable<object[]> Vocabularies() => new[] { "real", "doctored", "no-space-prefix" }.Select(v => new object[] { v });

    // ---- encode ----

    [Theory]
    [MemberData(nameof(PromptCases))]
    public void Encode_matches_llama_cpp(string vocabulary, int promptIndex)
    {
        var (ours, oracle) = fixture.Pick(vocabulary);
        var text = Prompts[promptIndex];
        foreach (var addBos in new[] { false, true })
        {
            var expected = oracle.Tokenize(text, addBos);
            var actual = ours.Encode(text, addBos);
            Assert.True(expected.SequenceEqual(actual),
                $"{vocabulary} addBos={addBos} \"{Escape(text)}\"\n expected {string.Join(' ', expected)}\n actual   {string.Join(' ', actual)}");
        }
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void Encode_with_special_tokens_parsed_matches_llama_cpp(string vocabulary)
    {
        // parse_special: "<s>", "</s>" and the doctored control tokens are matched as tokens too.
        var (ours, oracle) = fixture.Pick(vocabulary);
        var random = new Random(77);
        foreach (var text in Prompts.Concat(Enumerable.Range(0, 200).Select(_ => RandomText(random))))
        {
            foreach (var addSpecial in new[] { false, true })
            {
                var expected = oracle.Tokenize(text, addSpecial, parseSpecial: true);
                var actual = ours.Encode(text, addSpecial, parseSpecial: true);
                Assert.True(expected.SequenceEqual(actual),
                    $"{vocabulary} addSpecial={addSpecial} \"{Escape(text)}\"\n expected {string.Join(' ', expected)}\n actual   {string.Join(' ', actual)}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void Control_and_end_of_generation_flags_match_llama_cpp(string vocabulary)
    {
        var (ours, oracle) = fixture.Pick(vocabulary);
        for (var id = 0; id < ours.VocabSize; id++)
        {
            Assert.True(oracle.IsControl(id) == ours.IsControl(id), $"{vocabulary}: control flag of token {id}");
            Assert.True(oracle.IsEndOfGeneration(id) == ours.IsEndOfGeneration(id), $"{vocabulary}: end-of-generation flag of token {id}");
        }
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void Encode_matches_llama_cpp_on_random_strings(string vocabulary)
    {
        var (ours, oracle) = fixture.Pick(vocabulary);
        var random = new Random(20240611);
        for (var n = 0; n < 400; n++)
        {
            var text = RandomText(random);
            var addBos = n % 2 == 0;
            var expected = oracle.Tokenize(text, addBos);
            var actual = ours.Encode(text, addBos);
            Assert.True(expected.SequenceEqual(actual),
                $"{vocabulary} #{n} addBos={addBos} \"{Escape(text)}\"\n expected {string.Join(' ', expected)}\n actual   {string.Join(' ', actual)}");
            Assert.Equal(oracle.Detokenize(expected), ours.Decode(actual));
        }
    }

    [Fact]
    public void Encode_replaces_lone_surrogates_like_llama_cpp_sees_them()
    {
        // A lone surrogate reaches llama.cpp as EF BF BD (U+FFFD) through UTF-8 encoding; so must it reach us.
        const string text = "bad \uD800 surrogate \uDC00";
        Assert.Equal(fixture.RealOracle.Tokenize(text, true), fixture.Real.Encode(text, true));
        Assert.Equal(fixture.Real.Encode("bad \uFFFD surrogate \uFFFD", true), fixture.Real.Encode(text, true));
    }

    [Fact]
    public void Encode_shows_the_space_prefix_byte_fallback_and_bos()
    {
        var tok = fixture.Real;
        Assert.Equal([1], tok.Encode("", addBos: true));
        Assert.Empty(tok.Encode("", addBos: false));
        // " Hello": "▁H" is not a token but "▁H" + "ello"... whatever the merges, the first token carries the space.
        var hello = tok.Encode("Hello", addBos: false);
        Assert.StartsWith(" ", Encoding.UTF8.GetString(tok.TokenBytes(hello[0])));
        // U+1F600 has no token: four byte tokens <0xF0> <0x9F> <0x98> <0x80> after the lone "▁".
        Assert.Equal([1, 410, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80], tok.Encode("😀", addBos: true));
        output.WriteLine($"Once upon a time -> {string.Join(' ', tok.Encode("Once upon a time", true))}");
    }

    // ---- pieces and decode ----

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void Every_token_piece_matches_llama_cpp(string vocabulary)
    {
        var (ours, oracle) = fixture.Pick(vocabulary);
        Assert.Equal(oracle.VocabSize, ours.VocabSize);
        Assert.Equal(oracle.BosToken, ours.BosId);
        Assert.Equal(oracle.EosToken, ours.EosId);
        for (var id = 0; id < ours.VocabSize; id++)
        {
            var expected = oracle.TokenPiece(id);
            Assert.True(expected.AsSpan().SequenceEqual(ours.TokenBytes(id)),
                $"{vocabulary} token {id}: expected [{Convert.ToHexString(expected)}], got [{Convert.ToHexString(ours.TokenBytes(id))}]");
        }
    }

    [Fact]
    public void Piece_rules_for_each_token_kind()
    {
        var real = fixture.Real;
        Assert.Equal(""u8.ToArray(), real.TokenBytes(0).ToArray());           // <unk>: unknown renders empty
        Assert.Equal(""u8.ToArray(), real.TokenBytes(1).ToArray());           // <s>: control renders empty
        Assert.Equal(" the"u8.ToArray(), real.TokenBytes(265).ToArray());     // ▁the
        Assert.Equal(new byte[] { 0x0A }, real.TokenBytes(13).ToArray());     // <0x0A>
        Assert.True(real.IsControl(1) && real.IsControl(2));
        Assert.False(real.IsControl(0) || real.IsControl(13) || real.IsControl(265));

        var doctored = fixture.Doctored;
        Assert.Equal("<|user|>"u8.ToArray(), doctored.TokenBytes(TokenizerOracleFixture.UserToken).ToArray());
        Assert.True(doctored.IsControl(TokenizerOracleFixture.ImEndToken));   // promoted by its text
        Assert.Equal(0, doctored.TokenBytes(TokenizerOracleFixture.ImEndToken).Length);
        Assert.Equal(0, doctored.TokenBytes(TokenizerOracleFixture.UnusedToken).Length);
        Assert.Equal(0, doctored.TokenBytes(TokenizerOracleFixture.UndefinedToken).Length);
        Assert.Equal("[EMPTY_506]"u8.ToArray(), doctored.TokenBytes(TokenizerOracleFixture.EmptyToken).ToArray());
        Assert.Equal("<0xF0>"u8.ToArray(), doctored.TokenBytes(TokenizerOracleFixture.RetypedByteToken).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => real.TokenBytes(512));
        Assert.Throws<ArgumentOutOfRangeException>(() => real.TokenBytes(-1));
    }

    [Theory]
    [MemberData(nameof(PromptCases))]
    public void Decode_matches_llama_cpp_detokenize(string vocabulary, int promptIndex)
    {
        var (ours, oracle) = fixture.Pick(vocabulary);
        var text = Prompts[promptIndex];
        foreach (var addBos in new[] { false, true })
        {
            var tokens = ours.Encode(text, addBos);
            Assert.Equal(oracle.Detokenize(tokens), ours.Decode(tokens));
        }
    }

    [Fact]
    public void Decode_round_trips_the_way_llama_cpp_does()
    {
        var tok = fixture.Real;
        foreach (var text in Prompts.Where(p => !p.Contains('▁')))
        {
            // The space prefix added by encoding is dropped again from the first token only...
            Assert.Equal(text, tok.Decode(tok.Encode(text, addBos: false)));
            // ...and a leading BOS is that first token: it renders empty, and the space after it survives.
            Assert.Equal(text.Length == 0 ? "" : " " + text, tok.Decode(tok.Encode(text, addBos: true)));
        }
        // Only one space goes, even when the first piece has more.
        Assert.Equal(" x", tok.Decode(tok.Encode(" x", false)));
        // A literal U+2581 in the input is indistinguishable from an escaped space, so it comes back as a space.
        Assert.Equal("a b", tok.Decode(tok.Encode("a▁b", false)));
    }

    [Fact]
    public void Decode_matches_llama_cpp_on_random_token_sequences()
    {
        // Arbitrary ids: control tokens anywhere, lone byte tokens forming invalid UTF-8, BOS first or not.
        var random = new Random(7);
        foreach (var (ours, oracle) in new[] { fixture.Pick("real"), fixture.Pick("doctored"), fixture.Pick("no-space-prefix") })
        {
            for (var n = 0; n < 300; n++)
            {
                var tokens = new int[random.Next(0, 12)];
                for (var i = 0; i < tokens.Length; i++)
                    tokens[i] = random.Next(4) == 0 ? random.Next(0, 259) : random.Next(0, ours.VocabSize);
                var expected = oracle.Detokenize(tokens);
                var actual = ours.Decode(tokens);
                Assert.True(expected == actual,
                    $"tokens {string.Join(' ', tokens)}: expected \"{Escape(expected)}\", got \"{Escape(actual)}\"");
            }
        }
    }

    [Fact]
    public void Streaming_the_pieces_gives_the_decoded_text()
    {
        var tok = fixture.Real;
        var tokens = tok.Encode("Emoji 😀🎉 日本語 café — done", addBos: true);
        var decoder = new Utf8StreamDecoder();
        var streamed = new StringBuilder();
        var partial = 0;
        foreach (var id in tokens)
        {
            var text = decoder.Push(tok.TokenBytes(id));
            if (text.Length == 0 && tok.TokenBytes(id).Length > 0) partial++;
            streamed.Append(text);
        }
        streamed.Append(decoder.Flush());
        Assert.Equal(tok.Decode(tokens), streamed.ToString()); // BOS first, so no space is stripped in either
        Assert.True(partial >= 6, "multi-byte characters should have been held back across byte tokens");
        Assert.DoesNotContain('\uFFFD', streamed.ToString());
    }

    private static string RandomText(Random random)
    {
        string[] pieces =
        [
            " ", " ", " ", "  ", "\n", "\t", "e", "t", "a", "o", "h", "n", "s", "the", "he", "Lily", "Tim", "play", "ed", "ing",
            "T", "L", "O", ".", ",", "!", "?", "\"", "'", "0", "7", "42", "é", "ñ", "ü", "€", "—", "’", "“", "日", "語", "中",
            "😀", "🎉", "👍🏽", "\u00A0", "\u200A", "▁", "<s>", "</s>", "<", ">", "|", "<|user|>", "<|u", "<|im_end|>", "â",
            "[EMPTY_506]", "\r\n", "\u0301", "ß", "x",
        ];
        var sb = new StringBuilder();
        var length = random.Next(0, 16);
        for (var i = 0; i < length; i++)
        {
            if (random.Next(6) == 0)
                sb.Append((char)random.Next(0x20, 0x7F)); // any printable ASCII
            else
                sb.Append(pieces[random.Next(pieces.Length)]);
        }
        return sb.ToString();
    }

    internal static string Escape(string s) => string.Concat(s.Select(c => c is < ' ' or > '~' ? $"\\u{(int)c:X4}" : c.ToString()));
}

/// <summary>Synthetic vocabularies and GGUF files: FromGguf validation and behaviours the real model cannot show.</summary>
public sealed class LlamaTokenizerVocabularyTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "si-tokvocab-" + Guid.NewGuid().ToString("N"));

    public LlamaTokenizerVocabularyTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static readonly string[] Tokens = ["<unk>", "<s>", "</s>", "▁", "a", "b", "c", "ab", "bc", "▁a", "abc"];
    private static readonly float[] Scores = [0, 0, 0, -1, -2, -3, -4, -5, -5, -6, -7];
    private static readonly int[] Types = [2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1];

    private string Write(Action<GgufWriter> fill)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".gguf");
        var writer = new GgufWriter();
        fill(writer);
        writer.Write(path);
        return path;
    }

    private static GgufWriter Vocabulary(GgufWriter w, string[]? tokens = null, float[]? scores = null, int[]? types = null) =>
        w.Add("general.architecture", "llama")
         .Add("tokenizer.ggml.model", "llama")
         .Add("tokenizer.ggml.tokens", tokens ?? Tokens)
         .Add("tokenizer.ggml.scores", scores ?? Scores)
         .Add("tokenizer.ggml.token_type", types ?? Types);

    private GgufFormatException Load(string path)
    {
        using var file = GgufFile.Open(path);
        return Assert.Throws<GgufFormatException>(() => LlamaTokenizer.FromGguf(file));
    }

    private static long OffsetOf(string path, string key)
    {
        using var file = GgufFile.Open(path);
        return file.Find(key)!.Offset;
    }

    [Fact]
    public void Valid_small_vocabulary_loads_with_llama_cpp_defaults()
    {
        var path = Write(w => Vocabulary(w));
        using var file = GgufFile.Open(path);
        var tok = LlamaTokenizer.FromGguf(file);
        Assert.Equal(11, tok.VocabSize);
        Assert.Equal(1, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.Equal(0, tok.UnkId);
        Assert.True(tok.AddSpacePrefix);
        Assert.True(tok.ShouldAddBos);
    }

    [Fact]
    public void Missing_tokens_key_throws()
    {
        var path = Write(w => w.Add("tokenizer.ggml.model", "llama").Add("tokenizer.ggml.scores", Scores).Add("tokenizer.ggml.token_type", Types));
        var e = Load(path);
        Assert.Contains("tokenizer.ggml.tokens", e.Message);
    }

    [Fact]
    public void Missing_model_key_throws()
    {
        var path = Write(w => w.Add("tokenizer.ggml.tokens", Tokens));
        Assert.Contains("tokenizer.ggml.model", Load(path).Message);
    }

    [Fact]
    public void Scores_of_another_length_throw_at_the_scores_key()
    {
        var path = Write(w => Vocabulary(w, scores: Scores[..^1]));
        var e = Load(path);
        Assert.Equal(OffsetOf(path, "tokenizer.ggml.scores"), e.Offset);
        Assert.NotEqual(0, e.Offset);
        Assert.Contains("tokenizer.ggml.scores", e.Message);
    }

    [Fact]
    public void Token_types_of_another_length_throw_at_the_token_type_key()
    {
        var path = Write(w => Vocabulary(w, types: [.. Types, 1]));
        var e = Load(path);
        Assert.Equal(OffsetOf(path, "tokenizer.ggml.token_type"), e.Offset);
        Assert.Contains("tokenizer.ggml.token_type", e.Message);
    }

    [Fact]
    public void Bos_id_out_of_range_throws_at_the_bos_key()
    {
        var path = Write(w => Vocabulary(w).Add("tokenizer.ggml.bos_token_id", 11u));
        var e = Load(path);
        Assert.Equal(OffsetOf(path, "tokenizer.ggml.bos_token_id"), e.Offset);
        Assert.Contains("bos_token_id", e.Message);
    }

    [Fact]
    public void Another_tokenizer_model_throws_at_the_model_key()
    {
        var path = Write(w => w.Add("tokenizer.ggml.model", "gpt2").Add("tokenizer.ggml.tokens", Tokens));
        var e = Load(path);
        Assert.Equal(OffsetOf(path, "tokenizer.ggml.model"), e.Offset);
        Assert.Contains("gpt2", e.Message);
    }

    [Fact]
    public void Duplicate_token_text_throws_at_the_tokens_key()
    {
        var path = Write(w => Vocabulary(w, tokens: [.. Tokens[..^1], "ab"]));
        var e = Load(path);
        Assert.Equal(OffsetOf(path, "tokenizer.ggml.tokens"), e.Offset);
        Assert.Contains("the duplicate 'ab' at ids", e.Message);
    }

    [Fact]
    public void Wrongly_typed_add_space_prefix_throws_at_its_key()
    {
        var path = Write(w => Vocabulary(w).Add("tokenizer.ggml.add_space_prefix", 1u));
        Assert.Equal(OffsetOf(path, "tokenizer.ggml.add_space_prefix"), Load(path).Offset);
    }

    [Fact]
    public void Constructor_rejects_inconsistent_arrays()
    {
        Assert.Throws<ArgumentException>(() => new LlamaTokenizer(Tokens, Scores[..^1], Types, 1, 2, 0, true));
        Assert.Throws<ArgumentException>(() => new LlamaTokenizer(Tokens, Scores, Types[..^1], 1, 2, 0, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LlamaTokenizer(Tokens, Scores, Types, 11, 2, 0, true));
        Assert.Throws<ArgumentException>(() => new LlamaTokenizer([.. Tokens[..^1], "<0xZZ>"], Scores, [.. Types[..^1], 6], 1, 2, 0, true));
    }

    [Fact]
    public void Equal_scores_merge_the_leftmost_pair_first()
    {
        // "abc" becomes "▁abc": "ab" and "bc" tie at -5 and "▁a" trails at -6. The leftmost tie merges first (a+b),
        // which leaves "bc" stale; then "ab"+"c" (-7) merges, and "▁"+"abc" is no token: ▁ | abc.
        var tok = new LlamaTokenizer(Tokens, Scores, Types, 1, 2, 0, addSpacePrefix: true);
        Assert.Equal([3, 10], tok.Encode("abc", false));
        // "▁bcb": only "bc" is a token among the pairs: ▁ | bc | b.
        Assert.Equal([3, 8, 5], tok.Encode("bcb", false));
        // "ab" outranks "▁a" (-5 > -6) even though "▁a" is further left.
        Assert.Equal([3, 7], tok.Encode("ab", false));
    }

    [Fact]
    public void Missing_byte_tokens_fall_back_to_unknown()
    {
        var tok = new LlamaTokenizer(Tokens, Scores, Types, 1, 2, 0, addSpacePrefix: false);
        Assert.Equal([4, 0, 0], tok.Encode("aé", false)); // é is two bytes, neither has a <0xNN> token
        var noUnk = new LlamaTokenizer(Tokens, Scores, Types, 1, 2, -1, addSpacePrefix: false);
        Assert.Throws<InvalidOperationException>(() => noUnk.Encode("é", false));
    }
}

public sealed class Utf8StreamDecoderTests
{
    [Fact]
    public void Emoji_split_across_pushes_is_held_back_until_complete()
    {
        var d = new Utf8StreamDecoder();
        byte[] smile = [0xF0, 0x9F, 0x98, 0x80];
        Assert.Equal("", d.Push(smile.AsSpan(0, 1)));
        Assert.Equal("", d.Push(smile.AsSpan(1, 2)));
        Assert.Equal("😀", d.Push(smile.AsSpan(3, 1)));
        Assert.Equal("", d.Flush());
    }

    [Fact]
    public void Text_around_a_split_character_comes_out_as_soon_as_possible()
    {
        var d = new Utf8StreamDecoder();
        Assert.Equal("caf", d.Push("caf\u00E9"u8[..4]));   // "caf" + first byte of é
        Assert.Equal("\u00E9!", d.Push([0xA9, (byte)'!']));
    }

    [Fact]
    public void Invalid_bytes_become_replacement_characters_immediately()
    {
        var d = new Utf8StreamDecoder();
        Assert.Equal("\uFFFD", d.Push([0xFF]));                       // never valid
        Assert.Equal("\uFFFD", d.Push([0x80]));                       // stray continuation byte
        Assert.Equal("\uFFFD\uFFFD", d.Push([0xE0, 0x80]));           // overlong: known bad at the second byte
        Assert.Equal("\uFFFD\uFFFD\uFFFD", d.Push([0xED, 0xA0, 0x80])); // a surrogate code point
        Assert.Equal("\uFFFD\uFFFD", d.Push([0xF4, 0x90]));           // beyond U+10FFFF
        Assert.Equal("", d.Push([0xC3]));                              // could still be é...
        Assert.Equal("\uFFFDA", d.Push("A"u8));                        // ...but 'A' proves it was not
        Assert.Equal("", d.Flush());
    }

    [Fact]
    public void Flush_replaces_an_incomplete_tail_and_starts_over()
    {
        var d = new Utf8StreamDecoder();
        Assert.Equal("x", d.Push([(byte)'x', 0xF0, 0x9F, 0x98]));
        Assert.Equal("\uFFFD", d.Flush());
        Assert.Equal("ok", d.Push("ok"u8));
        Assert.Equal("", d.Push([0xE2, 0x82]));
        d.Reset();
        Assert.Equal("A", d.Push("A"u8));
    }

    [Fact]
    public void Any_chunking_gives_the_same_text_as_decoding_everything_at_once()
    {
        var random = new Random(3);
        for (var n = 0; n < 200; n++)
        {
            var bytes = new List<byte>();
            for (var i = 0; i < 40; i++)
            {
                switch (random.Next(4))
                {
                    case 0: bytes.AddRange(Encoding.UTF8.GetBytes("aé€😀"[random.Next(4)..])); break;
                    case 1: bytes.Add((byte)random.Next(256)); break;
                    default: bytes.Add((byte)random.Next(0x20, 0x7F)); break;
                }
            }
            var all = bytes.ToArray();
            var d = new Utf8StreamDecoder();
            var sb = new StringBuilder();
            for (var at = 0; at < all.Length;)
            {
                var take = Math.Min(random.Next(0, 5), all.Length - at);
                sb.Append(d.Push(all.AsSpan(at, take)));
                at += take;
            }
            sb.Append(d.Flush());
            Assert.Equal(Encoding.UTF8.GetString(all), sb.ToString());
        }
    }
}
