using System.Text;
using SpecializedInfer.Gguf;
using SpecializedInfer.Tokenization.PreTokenization;

namespace SpecializedInfer.Tokenization;

/// <summary>
/// The byte-level BPE tokenizer of GGUF files with <c>tokenizer.ggml.model = gpt2</c> (Llama 3, Qwen2, SmolLM, GPT-2
/// and their relatives), reproducing llama.cpp's <c>llm_tokenizer_bpe_session</c> token for token: special and
/// user-defined tokens cut out first, the pre-tokenizer named by <c>tokenizer.ggml.pre</c> splitting the rest into
/// words, each word's UTF-8 bytes spelt in GPT-2's byte alphabet, then merged pair by pair in the order of
/// <c>tokenizer.ggml.merges</c> (lowest rank first, leftmost pair on ties). Decoding follows <c>llama_token_to_piece</c>
/// and <c>llama_detokenize</c>, including its clean-up of spaces before punctuation where the pre-tokenizer asks for it.
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers 2.0.1 was tried for the merge step: its BpeTokenizer, given the same vocabulary and merges
/// and fed llama.cpp's word splits (as a custom PreTokenizer), gave llama.cpp's ids on every test string of the four
/// pre-tokenizers. It is not used because it refuses a vocabulary in which a merge's result is not a token ("Trying to
/// merge a token ... which not exist in the vocabulary"), which llama.cpp loads and tokenizes (merging anyway, then
/// falling back to one-byte tokens), and has no whole-word lookup for Llama 3 (ignore_merges); pre-tokenizers,
/// special tokens, flags and decoding follow llama.cpp's own code here in any case, which leaves the library only a
/// merge loop shorter than the adapter around it.
/// Instances are immutable and safe to share between threads.
/// </remarks>
public sealed class ByteLevelBpeTokenizer : ITokenizer
{
    // The byte-level-only keys FromGguf reads (the others are GgufVocabulary's).
    private const string PreKey = "tokenizer.ggml.pre";
    private const string MergesKey = "tokenizer.ggml.merges";

    /// <summary>llama.cpp's default BOS and EOS for a BPE vocabulary that names none (GPT-NeoX's 11).</summary>
    private const int DefaultSpecialId = 11;

    private readonly BpePreTokenizer _pre;
    private readonly TokenAttributes _attributes;
    private readonly Dictionary<string, int> _idByText;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    // Merge ranks by "left right": words are spelt in the byte alphabet, which has no space, so the key is unambiguous.
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _rank;

    // token_to_piece(special: false) of every token.
    private readonly TokenPieces _pieces;

    private readonly (int Id, string Text)[] _specials;

    /// <param name="tokens">Token texts as in <c>tokenizer.ggml.tokens</c> (normal tokens spelt in GPT-2's byte alphabet).</param>
    /// <param name="tokenTypes">GGUF token types (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).</param>
    /// <param name="merges">Merge rules "left right", highest priority first, as in <c>tokenizer.ggml.merges</c>.</param>
    /// <param name="preTokenizer">The <c>tokenizer.ggml.pre</c> name ("llama-bpe", "qwen2", "gpt-2", "smollm", ...).</param>
    /// <param name="bosId">Beginning-of-sequence id, or -1.</param>
    /// <param name="eosId">End-of-sequence id, or -1.</param>
    /// <param name="shouldAddBos">The add_bos flag; null takes the pre-tokenizer's default (on for Llama 3).</param>
    /// <param name="shouldAddEos">The add_eos flag.</param>
    /// <param name="addSpacePrefix">The add_space_prefix flag (off unless a file sets it).</param>
    public ByteLevelBpeTokenizer(string[] tokens, int[] tokenTypes, string[] merges, string preTokenizer, int bosId, int eosId,
        bool? shouldAddBos = null, bool shouldAddEos = false, bool addSpacePrefix = false)
        : this(tokens, tokenTypes, merges, BpePreTokenizer.ForName(preTokenizer ?? throw new ArgumentNullException(nameof(preTokenizer)))
               ?? throw new ArgumentException($"The pre-tokenizer '{preTokenizer}' is not one this library implements ({string.Join(", ", BpePreTokenizer.Names)})."),
            bosId, eosId, shouldAddBos, shouldAddEos, addSpacePrefix, file: null)
    {
    }

    private ByteLevelBpeTokenizer(string[] tokens, int[] tokenTypes, string[] merges, BpePreTokenizer pre, int bosId, int eosId,
        bool? shouldAddBos, bool shouldAddEos, bool addSpacePrefix, GgufFile? file)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(tokenTypes);
        ArgumentNullException.ThrowIfNull(merges);
        var n = tokens.Length;
        // Message-only constructors: FromGguf puts these messages in its format error, and users read them.
        if (n == 0) throw new ArgumentException("The vocabulary is empty.");
        if (tokenTypes.Length != n) throw new ArgumentException($"The vocabulary has {tokenTypes.Length} token types for {n} tokens.");
        GgufVocabulary.CheckId(bosId, n, "BOS token");
        GgufVocabulary.CheckId(eosId, n, "EOS token");
        if (Array.IndexOf(tokens, null) is var missing and >= 0) throw new ArgumentException($"Token {missing} is null.");
        if (Array.IndexOf(merges, null) is var missingMerge and >= 0) throw new ArgumentException($"Merge {missingMerge} is null.");
        if (Models.LlamaModelRules.CheckTokens(tokens, tokenTypes) is { } broken)
            throw new ArgumentException(broken.Sentence ?? $"The vocabulary breaks a rule: expected {broken.Expected}.");

        _pre = pre;
        VocabSize = n;
        BosId = bosId;
        EosId = eosId;
        ShouldAddBos = shouldAddBos ?? pre.AddBosByDefault;
        ShouldAddEos = shouldAddEos;
        AddSpacePrefix = addSpacePrefix;
        if (ShouldAddBos && bosId < 0) throw new ArgumentException("The vocabulary asks for a BOS token in front of every text but has none.");
        if (ShouldAddEos && eosId < 0) throw new ArgumentException("The vocabulary asks for an EOS token after every text but has none.");

        var texts = new string[n];
        _idByText = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (var i = 0; i < n; i++)
        {
            texts[i] = Models.LlamaModelRules.TokenText(tokens[i], i);
            _idByText.Add(texts[i], i);
        }
        _lookup = _idByText.GetAlternateLookup<ReadOnlySpan<char>>();
        _attributes = TokenAttributes.Resolve(texts, tokenTypes, eosId, file);

        // llama.cpp splits each merge at its first space after the first character and keeps the first rank of a pair.
        var ranks = new Dictionary<string, int>(merges.Length, StringComparer.Ordinal);
        for (var i = 0; i < merges.Length; i++)
            if (merges[i].IndexOf(' ', Math.Min(1, merges[i].Length)) > 0) ranks.TryAdd(merges[i], i);
        _rank = ranks.GetAlternateLookup<ReadOnlySpan<char>>();

        _pieces = new TokenPieces(n, (i, pieces) => AppendPiece(pieces, texts[i], _attributes.Attrs[i]));

        _specials = SpecialTokenSplitter.Order(
            Enumerable.Range(0, n).Where(i => (_attributes.Attrs[i] & (TokenAttr.Control | TokenAttr.UserDefined | TokenAttr.Unknown)) != 0),
            i => texts[i], i => Encoding.UTF8.GetByteCount(texts[i]));
    }

    public int VocabSize { get; }

    public int BosId { get; }

    public int EosId { get; }

    public bool ShouldAddBos { get; }

    public bool ShouldAddEos { get; }

    public bool AddSpacePrefix { get; }

    /// <summary>The <c>tokenizer.ggml.pre</c> name the tokenizer splits words by.</summary>
    public string PreTokenizer => _pre.Name;

    /// <summary>
    /// Reads the <c>tokenizer.ggml.*</c> vocabulary of a GGUF file with <c>tokenizer.ggml.model = gpt2</c>. A malformed
    /// vocabulary throws <see cref="GgufFormatException"/>, a pre-tokenizer not implemented here (or none)
    /// <see cref="UnsupportedTokenizerException"/>, each at the offending key's offset. Optional keys default as in
    /// llama.cpp: every token normal, BOS and EOS 11 (dropped if the vocabulary is smaller), add_bos as the
    /// pre-tokenizer says, add_eos and add_space_prefix off.
    /// </summary>
    public static ByteLevelBpeTokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        GgufVocabulary.RequireModel(file, "gpt2", "a byte-level BPE vocabulary");
        var pre = file.Find(PreKey) switch
        {
            null => throw new UnsupportedTokenizerException(file.FilePath, file.Find(GgufVocabulary.ModelKey)!.Offset, PreKey,
                "nothing (llama.cpp would fall back to its 'default' pre-tokenizer, which this library does not implement)", BpePreTokenizer.Names),
            { Value: string name } v => BpePreTokenizer.ForName(name)
                ?? throw new UnsupportedTokenizerException(file.FilePath, v.Offset, PreKey, $"\"{name}\"", BpePreTokenizer.Names),
            var v => throw new GgufFormatException(file.FilePath, v.Offset, $"'{PreKey}' to be a string, found {v.Type}"),
        };

        var (tokens, tokensAt) = GgufVocabulary.Tokens(file);
        var n = tokens.Length;
        var types = GgufVocabulary.Types(file, n);
        if (file.Find(MergesKey) is null)
            throw new GgufFormatException(file.FilePath, tokensAt, $"the BPE merges '{MergesKey}' beside the tokens");
        var merges = file.GetArray<string>(MergesKey);
        var bos = GgufVocabulary.SpecialId(file, GgufVocabulary.BosKey, DefaultSpecialId, n);
        var eos = GgufVocabulary.SpecialId(file, GgufVocabulary.EosKey, DefaultSpecialId, n);
        var addBos = GgufVocabulary.AddFlag(file, GgufVocabulary.AddBosKey, pre.AddBosByDefault, bos, "a BOS", tokensAt);
        var addEos = GgufVocabulary.AddFlag(file, GgufVocabulary.AddEosKey, false, eos, "an EOS", tokensAt);
        GgufVocabulary.CheckTokens(file, tokens, types, tokensAt);
        return new ByteLevelBpeTokenizer(tokens, types, merges, pre, bos, eos, addBos, addEos,
            GgufVocabulary.OptionalBool(file, GgufVocabulary.AddSpacePrefixKey) ?? false, file);
    }

    public int[] Encode(string text, bool addSpecial, bool parseSpecial)
    {
        ArgumentNullException.ThrowIfNull(text);
        // The UTF-8 round trip turns lone surrogates into U+FFFD, the text llama.cpp is given.
        text = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
        var output = new List<int>(text.Length / 3 + 2);
        if (addSpecial && ShouldAddBos) output.Add(BosId);
        var specials = parseSpecial ? _specials : _specials.Where(s => (_attributes.Attrs[s.Id] & (TokenAttr.Control | TokenAttr.Unknown)) == 0);
        foreach (var (start, length, token) in SpecialTokenSplitter.Partition(text, specials))
        {
            if (token >= 0) output.Add(token);
            else TokenizeFragment(text.AsSpan(start, length), output);
        }
        if (addSpecial && ShouldAddEos) output.Add(EosId);
        return output.ToArray();
    }

    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        GgufVocabulary.CheckToken(id, VocabSize);
        return _pieces[id];
    }

    public bool IsControl(int id)
    {
        GgufVocabulary.CheckToken(id, VocabSize);
        return (_attributes.Attrs[id] & TokenAttr.Control) != 0;
    }

    public bool IsEndOfGeneration(int id)
    {
        GgufVocabulary.CheckToken(id, VocabSize);
        return _attributes.IsEndOfGeneration(id);
    }

    /// <summary>
    /// Text of a token sequence as llama.cpp's <c>llama_detokenize</c> gives it: the pieces concatenated (one leading
    /// space of the first dropped when the space prefix is on), then, for pre-tokenizers that ask for it, the clean-up
    /// of spaces before "? ! . ," and in " ' ", " 's", " 'm", " 're", " 've".
    /// </summary>
    public string Decode(ReadOnlySpan<int> tokens) =>
        _pieces.Decode(tokens, VocabSize, AddSpacePrefix, _pre.CleanSpaces ? CleanSpaces : null);

    /// <summary>llm_tokenizer_bpe_session::tokenize on one raw fragment.</summary>
    private void TokenizeFragment(ReadOnlySpan<char> raw, List<int> output)
    {
        var codepoints = new int[raw.Length];
        var count = 0;
        foreach (var rune in raw.EnumerateRunes()) codepoints[count++] = rune.Value;
        var words = new List<int>();
        _pre.Split(codepoints.AsSpan(0, count), words);

        Span<byte> utf8 = stackalloc byte[4];
        var wordBytes = new List<byte>();
        var at = 0;
        foreach (var wordLength in words)
        {
            wordBytes.Clear();
            for (var i = at; i < at + wordLength; i++)
            {
                var written = new Rune(codepoints[i]).EncodeToUtf8(utf8);
                for (var b = 0; b < written; b++) wordBytes.Add(utf8[b]);
            }
            at += wordLength;
            var word = ByteLevelAlphabet.Spell(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(wordBytes));
            if (_pre.IgnoreMerges && _idByText.TryGetValue(word, out var whole)) output.Add(whole);
            else MergeWord(word, output);
        }
    }

    /// <summary>The merge loop of llm_tokenizer_bpe_session on one word spelt in the byte alphabet.</summary>
    private void MergeWord(string word, List<int> output)
    {
        // One symbol per character: every character of the byte alphabet is one UTF-16 unit and one UTF-8 character.
        // A pair may merge when "left right" is a merge rule, lowest rank first.
        var key = new char[word.Length + 1];
        bool Rank(int start, int length, int leftLength, out int rank)
        {
            word.AsSpan(start, leftLength).CopyTo(key);
            key[leftLength] = ' ';
            word.AsSpan(start + leftLength, length - leftLength).CopyTo(key.AsSpan(leftLength + 1));
            return _rank.TryGetValue(key.AsSpan(0, length + 1), out rank);
        }

        foreach (var (start, length) in SymbolMerger.Merge<int>(Enumerable.Repeat(1, word.Length).ToArray(), Rank, Comparer<(int, int)>.Default))
        {
            var symbol = word.AsSpan(start, length);
            if (_lookup.TryGetValue(symbol, out var id))
            {
                output.Add(id);
                continue;
            }
            // No such token: llama.cpp looks each UTF-8 byte of the spelling up as a one-byte token and drops the
            // bytes that are none. Only ASCII characters are a one-byte spelling; the others cannot match.
            foreach (var c in symbol)
                if (c < 0x80 && _lookup.TryGetValue([c], out id)) output.Add(id);
        }
    }

    /// <summary>The bytes token_to_piece gives for a token of a byte-level vocabulary (special = false).</summary>
    private static void AppendPiece(List<byte> output, string text, TokenAttr attr)
    {
        if ((attr & (TokenAttr.Unknown | TokenAttr.Control)) != 0) return;
        if ((attr & TokenAttr.UserDefined) != 0)
        {
            output.AddRange(Encoding.UTF8.GetBytes(text));
            return;
        }
        if ((attr & TokenAttr.Normal) != 0)
        {
            // llama_decode_text: each character back to its byte; one outside the alphabet becomes a visible marker
            // that repeats the whole token text, as llama.cpp writes it.
            Span<byte> utf8 = stackalloc byte[4];
            foreach (var rune in text.EnumerateRunes())
            {
                if (ByteLevelAlphabet.Byte(rune.Value) is { } b)
                {
                    output.Add(b);
                    continue;
                }
                var written = rune.EncodeToUtf8(utf8);
                output.AddRange("[UNK_BYTE_0x"u8);
                for (var i = 0; i < written; i++) output.AddRange(Encoding.ASCII.GetBytes(utf8[i].ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
                output.AddRange(Encoding.UTF8.GetBytes(text));
                output.Add((byte)']');
            }
            return;
        }
        if ((attr & TokenAttr.Byte) != 0)
            output.Add(Models.LlamaModelRules.ByteTokenValue(text)!.Value); // spelling checked by CheckTokens
        // Unused and undefined tokens render as nothing.
    }

    /// <summary>
    /// llama_detokenize's clean_spaces passes, in place, exactly as written there (three passes over the bytes).
    /// Returns the new length.
    /// </summary>
    private static int CleanSpaces(Span<byte> text)
    {
        // First pass: " ?", " !", " .", " ," lose the space.
        var total1 = text.Length;
        var total = total1 > 0 ? 1 : 0;
        for (var i = 1; i < total1; i++)
        {
            var x = text[i];
            if (text[i - 1] == ' ' && x is (byte)'?' or (byte)'!' or (byte)'.' or (byte)',') total--;
            text[total++] = x;
        }

        // Second pass: a single apostrophe between spaces loses both.
        var total2 = total;
        total = total > 0 ? 1 : 0;
        for (var i = 1; i < total2; i++)
        {
            var x = text[i];
            if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ')
            {
                total--;
                text[++i] = 0;
            }
            text[total++] = x;
        }

        // Third pass: " 's", " 'm", " 're", " 've" lose the space (" 't", " 'd", " 'll" keep it).
        var total3 = total;
        total = total > 0 ? 1 : 0;
        for (var i = 1; i < total3; i++)
        {
            var x = text[i];
            if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3)
            {
                var x1 = text[i + 1];
                if (x1 is (byte)'s' or (byte)'m') total--;
                else if (x1 is not ((byte)'t' or (byte)'d') && i + 2 < total3)
                {
                    var x2 = text[i + 2];
                    if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) total--;
                }
            }
            text[total++] = x;
        }
        return total;
    }
}
