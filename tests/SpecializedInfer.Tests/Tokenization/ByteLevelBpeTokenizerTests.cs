using System.Text;
using SpecializedInfer.Gguf;
using SpecializedInfer.Tests.Cli;
using SpecializedInfer.Tests.Support;
using SpecializedInfer.Tokenization;
using Xunit.Abstractions;

namespace SpecializedInfer.Tests.Tokenization;

/// <summary>
/// One trained byte-level BPE vocabulary (<see cref="BpeVocabulary"/>) in four GGUF files that differ in
/// <c>tokenizer.ggml.pre</c> and flags, each loaded by our tokenizer and by llama.cpp (the oracle).
/// </summary>
public sealed class BpeOracleFixture : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "si-bpe-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Dictionary<string, (ByteLevelBpeTokenizer Ours, LlamaCppOracle Oracle, string Path)> _byPre = [];

    public static readonly string[] PreTokenizers = ["llama-bpe", "qwen2", "gpt-2", "smollm"];

    public BpeOracleFixture()
    {
        System.IO.Directory.CreateDirectory(_dir);
        Vocabulary = BpeVocabulary.Train(mergeCount: 1500);
        var v = Vocabulary;
        foreach (var pre in PreTokenizers)
        {
            var path = System.IO.Path.Combine(_dir, pre + ".gguf");
            switch (pre)
            {
                case "llama-bpe": // add_bos by default
                    v.WriteModel(path, pre, v.IdOf("<|begin_of_text|>"), v.IdOf("<|end_of_text|>"));
                    break;
                case "qwen2":
                    v.WriteModel(path, pre, v.IdOf("<|endoftext|>"), v.IdOf("<|im_end|>"), [("tokenizer.ggml.add_bos_token", GgufValue.Of(false))]);
                    break;
                case "gpt-2": // add_space_prefix only changes decoding for BPE
                    v.WriteModel(path, pre, v.IdOf("<|endoftext|>"), v.IdOf("<|endoftext|>"), [("tokenizer.ggml.add_space_prefix", GgufValue.Of(true))]);
                    break;
                case "smollm": // both flags on
                    v.WriteModel(path, pre, v.IdOf("<|im_start|>"), v.IdOf("<|im_end|>"),
                        [("tokenizer.ggml.add_bos_token", GgufValue.Of(true)), ("tokenizer.ggml.add_eos_token", GgufValue.Of(true))]);
                    break;
            }
            using var file = GgufFile.Open(path);
            _byPre[pre] = (ByteLevelBpeTokenizer.FromGguf(file), new LlamaCppOracle(path, contextSize: 64), path);
        }
    }

    public BpeVocabulary Vocabulary { get; }

    public string Directory => _dir;

    public (ByteLevelBpeTokenizer Ours, LlamaCppOracle Oracle, string Path) this[string pre] => _byPre[pre];

    public void Dispose()
    {
        foreach (var (_, oracle, _) in _byPre.Values) oracle.Dispose();
        try { System.IO.Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

public sealed class ByteLevelBpeTokenizerTests(BpeOracleFixture fixture, ITestOutputHelper output) : IClassFixture<BpeOracleFixture>
{
    /// <summary>Hand-picked cases; <see cref="RandomText"/> adds 400 more per pre-tokenizer.</summary>
    public static readonly string[] Fixed =
    [
        "",
        " ",
        "a",
        "Hello world",
        "Hello, world!",
        "   leading spaces",
        "trailing spaces   ",
        "multiple   inner    spaces and\ttabs\t\tand  \t mixes",
        "\n",
        "\n\n\n",
        "line one\nline two\r\n\r\nline four\n",
        "  \n  indented\n\tcode\n",
        "I'm you're they've he'll she'd it's don't",
        "I'M YOU'RE THEY'VE HE'LL SHE'D IT'S DON'T",
        "You'Re we'Ve It'S 'S 's ''s '' ' x'",
        "rock'n'roll o'clock y'all ma'am",
        "1 12 123 1234 12345 123456 1234567 12345678901234567890",
        "3.14159 2.71828 1e-5 -0.001 +7 0x1F 1,000,000 12.5%",
        "phone 555-0100 on 2024-06-11 at 23:59:59",
        "def tokenize(text: str) -> list[int]:\n    return [vocab.get(w, 0) for w in words if w]\n",
        "for (var i = 0; i < n; i++) { sum += a[i] * 0.5f; }",
        "x = (a + b) * c - d / e % f; y += 1; z <<= 2; w != v && u >= t || s <= r;",
        "{\"name\": \"stories260K\", \"dim\": 64, \"layers\": [1, 2, 3]}",
        "<div class=\"note\"><p>See &amp; this</p></div>",
        "Le café est délicieux, n'est-ce pas ? Élodie a mangé une crème brûlée.",
        "e\u0301 combining accent and n\u0303",
        "Der Bär läuft über die Straße; ß ẞ",
        "Это пример текста. Αυτό είναι ελληνικό.",
        "日本語のテキストです。東京は大きな都市です。",
        "中文字符测试，你好世界。中文",
        "한국어 텍스트입니다",
        "नमस्ते दुनिया। مرحبا بالعالم. שלום עולם. สวัสดีชาวโลก",
        "Emoji 😀🎉👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵",
        "“quoted” ‘text’ — dash… ellipsis © ® ™ € £ ¥ ° ±",
        "non\u00A0breaking, ideographic\u3000space, em\u2003space, thin\u2009space",
        "\u00A0\u00A0 leading nbsp",
        "zero\u200Dwidth joiner and\u200Bspace",
        "nul\u0000char and bell\u0007 and \u001Fseparator",
        "\u0085next line\u2028line sep\u2029para",
        "ⅠⅡⅢ ½ ¼ ² ³ ١٢٣ ۴۵۶ ०१२",
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>",
        "<tool_call>{\"name\": \"f\"}</tool_call> <tool <tool_",
        "a⟨sep⟩b ⟨sep⟩⟨sep⟩",
        "<|fim_prefix|>def f():<|endoftext|>",
        "<|reserved_special_token_0|> <unused> <|unknown|>",
        "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!",
        "\"Where are you going?\" asked Tim. \"To the park,\" said Lily. \"Don't forget!\"",
        "a , b . c ? d ! e ' f 's g 'm h 're i 've j 't k 'd l 'll",
        "lone surrogate \uD800 here",
        "\uFFFD replacement and \uFEFF bom",
        "    ",
        "\t",
        " \n",
        "a\r\nb\rc",
        "!!!???...,,,",
        "$100 + €200 = ¥300 #hash @at ^caret `tick` |pipe| ~tilde~",
        "___init___ __name__ snake_case camelCase PascalCase kebab-case",
        "https://example.com/path?query=1&x=y#frag",
        "C:\\Windows\\System32\\ and /usr/local/bin/",
        "ÀÉÎÕÜ àéîõü ñÑ çÇ",
        "🙂🙃 🤖💬",
    ];

    private static readonly string[] Pieces =
    [
        " ", " ", " ", "  ", "   ", "\n", "\n\n", "\t", "\r\n", "\u00A0", "\u3000",
        "the", "The", "THE", " the", "robot", "Pip", "engine", "token", "plan", "layer", "ing", "ed", "s",
        "I'm", "you're", "they've", "he'll", "she'd", "it's", "don't", "WE'LL", "ISN'T", "'S", "'Ll", "'", "''",
        "0", "7", "42", "123", "4096", "12345678", "3.14", "1,000", "-1", "+7", "1e-5",
        "(", ")", "{", "}", "[", "]", ";", ":", ",", ".", "!", "?", "\"", "+=", "=>", "!=", "&&", "//", "#", "_", "-", "*",
        "def ", "return", "var", "int", "i++", "x[i]", "f(x)", "0x1F",
        "café", "naïve", "Élodie", "Straße", "über", "niño", "e\u0301", "Привет", "мир", "Καλημέρα",
        "日本語", "東京", "中文", "你好", "한국어", "नमस्ते", "مرحبا", "שלום", "สวัสดี",
        "😀", "🎉", "👍🏽", "👨‍👩‍👧", "🇫🇷", "…", "—", "“", "”", "©", "€",
        "<|im_start|>", "<|im_end|>", "<|eot_id|>", "<|begin_of_text|>", "<tool_call>", "<tool", "⟨sep⟩", "<|fim_prefix|>",
        "<|", "|>", "<unused>", "\u0000", "\u200D",
    ];

    /// <summary>0 to 14 random pieces, sometimes with a random printable ASCII or BMP character between them.</summary>
    private static string RandomText(Random random)
    {
        var sb = new StringBuilder();
        var count = random.Next(0, 15);
        for (var i = 0; i < count; i++)
        {
            switch (random.Next(10))
            {
                case 0: sb.Append((char)random.Next(0x20, 0x7F)); break;
                case 1: sb.Append((char)random.Next(0xA0, 0x3000)); break;
                default: sb.Append(Pieces[random.Next(Pieces.Length)]); break;
            }
        }
        return sb.ToString();
    }

    private static IEnumerable<string> Cases(string pre)
    {
        var random = new Random(20250611 + pre.Length);
        return Fixed.Concat(Enumerable.Range(0, 400).Select(_ => RandomText(random)));
    }

    public static IEnumerable<object[]> PreTokenizerNames() => BpeOracleFixture.PreTokenizers.Select(p => new object[] { p });

    [Theory]
    [MemberData(nameof(PreTokenizerNames))]
    public void Encode_and_decode_match_llama_cpp(string pre)
    {
        var (ours, oracle, _) = fixture[pre];
        var n = 0;
        foreach (var text in Cases(pre))
        {
            // Every combination of add_special and parse_special on the fixed cases, alternating on the random ones.
            var modes = n < Fixed.Length ? new[] { (false, false), (true, false), (false, true), (true, true) } : new[] { (n % 2 == 0, n % 3 == 0) };
            foreach (var (addSpecial, parseSpecial) in modes)
            {
                var expected = oracle.Tokenize(text, addSpecial, parseSpecial);
                var actual = ours.Encode(text, addSpecial, parseSpecial);
                Assert.True(expected.SequenceEqual(actual),
                    $"{pre} #{n} addSpecial={addSpecial} parseSpecial={parseSpecial} \"{LlamaTokenizerTests.Escape(text)}\"\n" +
                    $" expected {string.Join(' ', expected)}\n actual   {string.Join(' ', actual)}");
                var expectedText = oracle.Detokenize(expected);
                var actualText = ours.Decode(actual);
                Assert.True(expectedText == actualText,
                    $"{pre} #{n} decode of {string.Join(' ', actual)}: expected \"{LlamaTokenizerTests.Escape(expectedText)}\", got \"{LlamaTokenizerTests.Escape(actualText)}\"");
            }
            n++;
        }
        Assert.True(n >= 400 + Fixed.Length);
        output.WriteLine($"{pre}: {n} strings agree with llama.cpp");
    }

    [Theory]
    [MemberData(nameof(PreTokenizerNames))]
    public void Every_token_piece_and_attribute_matches_llama_cpp(string pre)
    {
        var (ours, oracle, _) = fixture[pre];
        Assert.Equal(oracle.VocabSize, ours.VocabSize);
        Assert.Equal(oracle.BosToken, ours.BosId);
        Assert.Equal(oracle.EosToken, ours.EosId);
        for (var id = 0; id < ours.VocabSize; id++)
        {
            Assert.True(oracle.TokenPiece(id).AsSpan().SequenceEqual(ours.TokenBytes(id)), $"{pre}: piece of token {id}");
            Assert.True(oracle.IsControl(id) == ours.IsControl(id), $"{pre}: control flag of token {id}");
            Assert.True(oracle.IsEndOfGeneration(id) == ours.IsEndOfGeneration(id), $"{pre}: end-of-generation flag of token {id}");
        }
    }

    [Theory]
    [MemberData(nameof(PreTokenizerNames))]
    public void Random_token_sequences_decode_as_llama_cpp(string pre)
    {
        // Arbitrary ids: control tokens anywhere, byte pieces that are not valid UTF-8 on their own, punctuation after
        // spaces (the clean-up passes), the first token with or without a leading space.
        var (ours, oracle, _) = fixture[pre];
        var random = new Random(17);
        var spaceAndPunctuation = new[] { " ", "?", "!", ".", ",", "'", "s", "m", "re", "ve", "t", "d", "ll", " '" }
            .Select(t => ours.Encode(t, false, false)).Where(t => t.Length == 1).Select(t => t[0]).ToArray();
        for (var n = 0; n < 400; n++)
        {
            var tokens = new int[random.Next(0, 12)];
            for (var i = 0; i < tokens.Length; i++)
                tokens[i] = random.Next(3) == 0 ? spaceAndPunctuation[random.Next(spaceAndPunctuation.Length)] : random.Next(ours.VocabSize);
            var expected = oracle.Detokenize(tokens);
            var actual = ours.Decode(tokens);
            Assert.True(expected == actual,
                $"{pre} tokens {string.Join(' ', tokens)}: expected \"{LlamaTokenizerTests.Escape(expected)}\", got \"{LlamaTokenizerTests.Escape(actual)}\"");
        }
    }

    [Fact]
    public void Flags_come_from_the_pre_tokenizer_and_the_file()
    {
        Assert.True(fixture["llama-bpe"].Ours.ShouldAddBos);    // Llama 3's default
        Assert.False(fixture["llama-bpe"].Ours.ShouldAddEos);
        Assert.False(fixture["qwen2"].Ours.ShouldAddBos);       // set false in the file
        Assert.False(fixture["gpt-2"].Ours.ShouldAddBos);       // GPT-2's default
        Assert.True(fixture["gpt-2"].Ours.AddSpacePrefix);
        Assert.True(fixture["smollm"].Ours.ShouldAddBos && fixture["smollm"].Ours.ShouldAddEos);
        var v = fixture.Vocabulary;
        var llama = fixture["llama-bpe"].Ours;
        Assert.Equal([v.IdOf("<|begin_of_text|>")], llama.Encode("", addSpecial: true, parseSpecial: false));
        Assert.True(llama.IsControl(v.IdOf("<|fim_prefix|>")));   // promoted by its text
        Assert.True(llama.IsEndOfGeneration(v.IdOf("<|eot_id|>")));
        Assert.False(llama.IsEndOfGeneration(v.IdOf("<|begin_of_text|>")));
    }

    [Fact]
    public void Streaming_the_pieces_gives_the_text_without_clean_up()
    {
        var tok = fixture["qwen2"].Ours; // qwen2 cleans no spaces, so streaming and Decode agree exactly
        var tokens = tok.Encode("Emoji 😀🎉 日本語 café — done ⟨sep⟩", addSpecial: false, parseSpecial: false);
        var decoder = new Utf8StreamDecoder();
        var streamed = new StringBuilder();
        foreach (var id in tokens) streamed.Append(decoder.Push(tok.TokenBytes(id)));
        streamed.Append(decoder.Flush());
        Assert.Equal(tok.Decode(tokens), streamed.ToString());
        Assert.Equal("Emoji 😀🎉 日本語 café — done ⟨sep⟩", streamed.ToString());
    }

    [Fact]
    public void Tokenizers_picks_the_tokenizer_the_file_names()
    {
        Assert.IsType<ByteLevelBpeTokenizer>(Tokenizers.FromGguf(fixture["qwen2"].Path));
        Assert.IsType<LlamaTokenizer>(Tokenizers.FromGguf(ModelLocator.Find("stories260K.gguf")));
    }

    [Theory]
    [MemberData(nameof(PreTokenizerNames))]
    public void Si_run_generates_on_a_byte_level_bpe_model_what_llama_cpp_generates(string pre)
    {
        // llama.cpp tokenizes the prompt, decodes greedily until end of generation, and the pieces make the text.
        var (_, oracle, path) = fixture[pre];
        const string Prompt = "The robot said: \"I'm 42 years old\" 😀";
        var prompt = oracle.Tokenize(Prompt, addBos: true);
        var generated = oracle.GreedyContinuation(prompt, 24, stopAtEos: true);
        var bytes = prompt.Concat(generated).SelectMany(t => oracle.TokenPiece(t)).ToArray();
        var (code, text, err) = Si.Run("run", "--model", path, "--prompt", Prompt, "-n", "24");
        Assert.True(code == 0, err);
        output.WriteLine($"{generated.Length} tokens: {text}");
        Assert.True(generated.Length > 4, "the synthetic model should generate more than a few tokens before ending");
        Assert.Equal(Encoding.UTF8.GetString(bytes) + Environment.NewLine, text);
    }

    [Fact]
    public void Si_run_names_the_key_of_a_pre_tokenizer_it_does_not_implement()
    {
        var path = Path.Combine(fixture.Directory, "unknown-pre-cli.gguf");
        fixture.Vocabulary.WriteModel(path, "no-such-pre", 0, 0);
        var (code, _, err) = Si.Run("run", "--model", path, "--prompt", "hi", "-n", "2");
        Assert.Equal(1, code);
        Assert.Contains("tokenizer.ggml.pre", err);
        Assert.Contains("\"no-such-pre\"", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void A_pre_tokenizer_not_implemented_here_is_a_typed_error_at_its_key_as_llama_cpp_refuses_it()
    {
        var path = Path.Combine(fixture.Directory, "unknown-pre.gguf");
        fixture.Vocabulary.WriteModel(path, "no-such-pre", 0, 0);
        using (var file = GgufFile.Open(path))
        {
            var e = Assert.Throws<UnsupportedTokenizerException>(() => Tokenizers.FromGguf(file));
            Assert.Equal(file.Find("tokenizer.ggml.pre")!.Offset, e.Offset);
            Assert.Contains("\"no-such-pre\"", e.Message);
            Assert.Contains("llama-bpe", e.Message);
            Assert.Contains(path, e.Message);
        }
        Assert.ThrowsAny<Exception>(() => new LlamaCppOracle(path, contextSize: 16));
    }

    [Fact]
    public void A_vocabulary_without_merges_or_pre_tokenizer_or_of_another_model_is_refused()
    {
        // The gpt-2 file with one metadata entry dropped (null) or replaced.
        string Rewrite(string key, GgufValue? replacement)
        {
            var path = Path.Combine(fixture.Directory, Guid.NewGuid().ToString("N") + ".gguf");
            using var file = GgufFile.Open(fixture["gpt-2"].Path);
            var writer = new GgufWriter { Alignment = file.Alignment };
            foreach (var (k, value) in file.Metadata)
                if (k != key || replacement is not null) writer.Add(k, k == key ? replacement! : value);
            writer.Write(path);
            return path;
        }

        using (var file = GgufFile.Open(Rewrite("tokenizer.ggml.merges", null)))
            Assert.Contains("tokenizer.ggml.merges", Assert.Throws<GgufFormatException>(() => Tokenizers.FromGguf(file)).Message);
        using (var file = GgufFile.Open(Rewrite("tokenizer.ggml.pre", null)))
            Assert.Contains("'default'", Assert.Throws<UnsupportedTokenizerException>(() => Tokenizers.FromGguf(file)).Message);
        using (var file = GgufFile.Open(Rewrite("tokenizer.ggml.model", GgufValue.Of("t5"))))
            Assert.Contains("\"t5\"", Assert.Throws<UnsupportedTokenizerException>(() => Tokenizers.FromGguf(file)).Message);
        using (var file = GgufFile.Open(Rewrite("tokenizer.ggml.eos_token_id", GgufValue.Of(100000u))))
            Assert.Contains("eos_token_id", Assert.Throws<GgufFormatException>(() => Tokenizers.FromGguf(file)).Message);
    }
}
