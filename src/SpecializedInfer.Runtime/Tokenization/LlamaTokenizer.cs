using System.Text;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tokenization;

/// <summary>
/// The SentencePiece-style (SPM) tokenizer of LLaMA-family GGUF files, reproducing llama.cpp's <c>llm_tokenizer_spm</c>
/// path token for token: optional space prefix, spaces escaped to U+2581, split into UTF-8 characters, greedy bigram
/// merges by vocabulary score (highest first, ties to the leftmost pair), then byte fallback to <c>&lt;0xNN&gt;</c>
/// tokens for whatever did not become a vocabulary entry. Decoding follows <c>llama_token_to_piece</c> and
/// <c>llama_detokenize</c> (remove_special = false, unparse_special = false).
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers is not used. Its LlamaTokenizer/SentencePieceTokenizer can only be created from a serialized
/// SentencePiece ModelProto stream (the ModelProto type is internal), so a GGUF vocabulary would have to be re-encoded
/// as protobuf first. Fed that way it does reproduce the merges, but it still differs from llama.cpp where it matters
/// here: user-defined tokens in the text are merged over instead of matched whole, "" with BOS gives no tokens instead
/// of [BOS], and its Decode drops the space after a BOS that llama.cpp keeps. Pieces, decoding and those rules would
/// be ours anyway, leaving the library only the merge loop, which is shorter than the protobuf writer it would need.
/// Instances are immutable and safe to share between threads.
/// </remarks>
public sealed class LlamaTokenizer : ITokenizer
{
    // The SentencePiece-only keys FromGguf reads (the others are GgufVocabulary's).
    private const string ScoresKey = "tokenizer.ggml.scores";
    private const string UnkKey = "tokenizer.ggml.unknown_token_id";

    /// <summary>"▁" (U+2581), SentencePiece's visible stand-in for a space, as UTF-8.</summary>
    private static ReadOnlySpan<byte> EscapedSpace => [0xE2, 0x96, 0x81];

    private readonly float[] _scores;
    private readonly TokenAttr[] _attrs;
    private readonly TokenAttributes _attributes;

    // Every token's piece (token_to_piece with special = false).
    private readonly TokenPieces _pieces;

    // Token lookup by UTF-8 text. Keys hold one char per UTF-8 byte (Latin-1 style), so the merge loop, which works on
    // bytes, can look up any byte range of its buffer without allocating (the span alternate lookup).
    private readonly Dictionary<string, int> _idByText;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    // byte_to_token: "<0xNN>" or, failing that, the single-byte token; -1 if neither exists.
    private readonly int[] _byteToken = new int[256];

    // Control, user-defined and unknown tokens, matched in raw text before the SPM merges (llama.cpp's
    // tokenizer_st_partition), longest first. Texts are in the same one-char-per-byte form as the lookup keys.
    private readonly (int Id, string Text)[] _specials;

    /// <param name="tokens">Token texts (UTF-8 once encoded), as in <c>tokenizer.ggml.tokens</c>.</param>
    /// <param name="scores">Merge scores; a higher score merges first.</param>
    /// <param name="tokenTypes">GGUF token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
    /// (anything else is llama.cpp's "undefined": usable in merges, renders empty).</param>
    /// <param name="bosId">Beginning-of-sequence id, or -1 for none.</param>
    /// <param name="eosId">End-of-sequence id, or -1 for none.</param>
    /// <param name="unkId">Unknown-token id, or -1 for none. Only used when a byte has no byte token (llama.cpp aborts there).</param>
    /// <param name="addSpacePrefix">Prefix raw text with a space before tokenizing, and drop it again when decoding.</param>
    /// <param name="shouldAddBos">Whether the model wants a BOS in front of a prompt (<c>tokenizer.ggml.add_bos_token</c>):
    /// what <see cref="Encode(string, bool, bool)"/> does with addSpecial.</param>
    /// <param name="shouldAddEos">Whether the model wants an EOS after a prompt (<c>tokenizer.ggml.add_eos_token</c>).</param>
    public LlamaTokenizer(string[] tokens, float[] scores, int[] tokenTypes, int bosId, int eosId, int unkId,
        bool addSpacePrefix = true, bool shouldAddBos = true, bool shouldAddEos = false)
        : this(tokens, scores, tokenTypes, bosId, eosId, unkId, addSpacePrefix, shouldAddBos, shouldAddEos, file: null)
    {
    }

    private LlamaTokenizer(string[] tokens, float[] scores, int[] tokenTypes, int bosId, int eosId, int unkId,
        bool addSpacePrefix, bool shouldAddBos, bool shouldAddEos, GgufFile? file)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(tokenTypes);
        var n = tokens.Length;
        // Message-only constructors throughout: FromGguf puts these messages in its format error, and users read them.
        if (n == 0) throw new ArgumentException("The vocabulary is empty.");
        if (scores.Length != n)
            throw new ArgumentException($"The vocabulary has {scores.Length} scores for {n} tokens.");
        if (tokenTypes.Length != n)
            throw new ArgumentException($"The vocabulary has {tokenTypes.Length} token types for {n} tokens.");
        GgufVocabulary.CheckId(bosId, n, "BOS token");
        GgufVocabulary.CheckId(eosId, n, "EOS token");
        GgufVocabulary.CheckId(unkId, n, "unknown token");
        if (Array.IndexOf(tokens, null) is var missing and >= 0) throw new ArgumentException($"Token {missing} is null.");
        // The loader's rules (distinct texts, byte tokens spelt <0xNN>), which the llama2.c converter applies too.
        if (Models.LlamaModelRules.CheckTokens(tokens, tokenTypes) is { } broken)
            throw new ArgumentException(broken.Sentence ?? $"The vocabulary breaks a rule: expected {broken.Expected}.");

        VocabSize = n;
        BosId = bosId;
        EosId = eosId;
        UnkId = unkId;
        AddSpacePrefix = addSpacePrefix;
        ShouldAddBos = shouldAddBos;
        ShouldAddEos = shouldAddEos;
        if (shouldAddEos && eosId < 0) throw new ArgumentException("The vocabulary asks for an EOS token after every text but has none.");
        _scores = (float[])scores.Clone();
        _idByText = new Dictionary<string, int>(n, StringComparer.Ordinal);

        var texts = new byte[n][];
        var names = new string[n];
        for (var i = 0; i < n; i++)
        {
            // llama.cpp renames empty entries so that every token keeps a distinct, non-empty text (checked above).
            names[i] = Models.LlamaModelRules.TokenText(tokens[i], i);
            texts[i] = Encoding.UTF8.GetBytes(names[i]);
            _idByText.Add(Encoding.Latin1.GetString(texts[i]), i);
        }
        _attributes = TokenAttributes.Resolve(names, tokenTypes, eosId, file);
        _attrs = _attributes.Attrs;
        _lookup = _idByText.GetAlternateLookup<ReadOnlySpan<char>>();

        // Pieces as token_to_piece(special: false) renders them.
        _pieces = new TokenPieces(n, (i, pieces) =>
        {
            var attr = _attrs[i];
            if ((attr & (TokenAttr.Unknown | TokenAttr.Control)) != 0)
            {
                // special = false: control and unknown tokens render as nothing.
            }
            else if ((attr & TokenAttr.UserDefined) != 0)
            {
                pieces.AddRange(texts[i]); // verbatim: user-defined text is never whitespace-escaped
            }
            else if ((attr & TokenAttr.Normal) != 0)
            {
                AppendUnescaped(pieces, texts[i]);
            }
            else if ((attr & TokenAttr.Byte) != 0)
            {
                pieces.Add(Models.LlamaModelRules.ByteTokenValue(names[i])!.Value); // spelling checked above
            }
            // Unused and undefined tokens render as nothing too.
        });

        Span<char> hex = ['<', '0', 'x', '0', '0', '>'];
        Span<char> single = [' '];
        for (var b = 0; b < 256; b++)
        {
            // Uppercase hex, exactly the spelling llama.cpp's byte_to_token looks for.
            hex[3] = "0123456789ABCDEF"[b >> 4];
            hex[4] = "0123456789ABCDEF"[b & 15];
            single[0] = (char)b;
            _byteToken[b] = _lookup.TryGetValue(hex, out var id) ? id : _lookup.TryGetValue(single, out id) ? id : -1;
        }

        _specials = SpecialTokenSplitter.Order(
            Enumerable.Range(0, n).Where(i => (_attrs[i] & (TokenAttr.Control | TokenAttr.UserDefined | TokenAttr.Unknown)) != 0),
            i => Encoding.Latin1.GetString(texts[i]), i => texts[i].Length);
    }

    /// <summary>Number of tokens in the vocabulary.</summary>
    public int VocabSize { get; }

    /// <summary>Beginning-of-sequence token id, or -1.</summary>
    public int BosId { get; }

    /// <summary>End-of-sequence token id, or -1.</summary>
    public int EosId { get; }

    /// <summary>Unknown token id, or -1.</summary>
    public int UnkId { get; }

    /// <summary>Whether raw text gets a leading space before tokenization (and the first piece loses one when decoding).</summary>
    public bool AddSpacePrefix { get; }

    /// <summary>The model's <c>tokenizer.ggml.add_bos_token</c> (default true): what llama.cpp does for add_special.</summary>
    public bool ShouldAddBos { get; }

    /// <summary>The model's <c>tokenizer.ggml.add_eos_token</c> (default false).</summary>
    public bool ShouldAddEos { get; }

    /// <summary>
    /// Reads the <c>tokenizer.ggml.*</c> vocabulary of a GGUF file. Anything missing or inconsistent throws
    /// <see cref="GgufFormatException"/> at the offending key's offset. Optional keys default as in llama.cpp:
    /// scores 0, every token normal, BOS 1, EOS 2, UNK 0 (each dropped if the vocabulary is too small), space prefix on,
    /// add_bos on.
    /// </summary>
    public static LlamaTokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        GgufVocabulary.RequireModel(file, "llama", "a SentencePiece vocabulary");
        var (tokens, tokensAt) = GgufVocabulary.Tokens(file);
        var n = tokens.Length;

        var scores = new float[n];
        if (file.Find(ScoresKey) is { } scoreValue)
        {
            // llama.cpp accepts float32 or int32 scores.
            scores = scoreValue.Value switch
            {
                float[] f => f,
                int[] ints => Array.ConvertAll(ints, v => (float)v),
                _ => throw new GgufFormatException(file.FilePath, scoreValue.Offset,
                    $"'{ScoresKey}' to be an array of float32 or int32, found {scoreValue.Type} of {scoreValue.ElementType}"),
            };
            if (scores.Length != n)
                throw new GgufFormatException(file.FilePath, scoreValue.Offset,
                    $"'{ScoresKey}' to have one entry per token ({n}), found {scores.Length}");
        }

        var types = GgufVocabulary.Types(file, n);
        var bos = GgufVocabulary.SpecialId(file, GgufVocabulary.BosKey, 1, n);
        var eos = GgufVocabulary.SpecialId(file, GgufVocabulary.EosKey, 2, n);
        var unk = GgufVocabulary.SpecialId(file, UnkKey, 0, n);
        var addSpacePrefix = GgufVocabulary.OptionalBool(file, GgufVocabulary.AddSpacePrefixKey) ?? true;
        var addBos = GgufVocabulary.AddFlag(file, GgufVocabulary.AddBosKey, true, bos, "a BOS", tokensAt);
        var addEos = GgufVocabulary.AddFlag(file, GgufVocabulary.AddEosKey, false, eos, "an EOS", tokensAt);
        GgufVocabulary.CheckTokens(file, tokens, types, tokensAt);
        return new LlamaTokenizer(tokens, scores, types, bos, eos, unk, addSpacePrefix, addBos, addEos, file);
    }

    /// <summary>
    /// Tokenizes <paramref name="text"/> as llama.cpp's <c>llama_tokenize</c> with parse_special = false: control-token
    /// text such as "&lt;s&gt;" is ordinary text, user-defined tokens are matched verbatim.
    /// </summary>
    /// <param name="text">Any string; lone surrogates are encoded as U+FFFD.</param>
    /// <param name="addBos">Prepend <see cref="BosId"/> whatever the model's add_bos flag says (llama.cpp's add_special
    /// for a model whose add_bos is on).</param>
    public int[] Encode(string text, bool addBos)
    {
        if (addBos && BosId < 0) throw new InvalidOperationException("This vocabulary has no BOS token.");
        return Encode(text, addBos, addEos: false, parseSpecial: false);
    }

    /// <inheritdoc/>
    public int[] Encode(string text, bool addSpecial, bool parseSpecial) =>
        Encode(text, addSpecial && ShouldAddBos, addSpecial && ShouldAddEos, parseSpecial);

    private int[] Encode(string text, bool addBos, bool addEos, bool parseSpecial)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 2 + 2);
        if (addBos) output.Add(BosId);

        var bytes = Encoding.UTF8.GetBytes(text);
        // One char per byte, the form of the lookup keys.
        var raw = Encoding.Latin1.GetString(bytes);

        // The first raw fragment, and every one that follows a special token, gets the space prefix. Empty text has
        // no fragment at all, hence no space prefix either.
        var previousWasToken = true;
        var specials = parseSpecial ? _specials : _specials.Where(s => (_attrs[s.Id] & (TokenAttr.Control | TokenAttr.Unknown)) == 0);
        foreach (var (start, length, token) in SpecialTokenSplitter.Partition(raw, specials))
        {
            if (token >= 0)
            {
                output.Add(token);
                previousWasToken = true;
            }
            else
            {
                TokenizeFragment(raw.AsSpan(start, length), AddSpacePrefix && previousWasToken, output);
                previousWasToken = false;
            }
        }
        if (addEos) output.Add(EosId);
        return output.ToArray();
    }

    /// <summary>
    /// The bytes llama.cpp's <c>llama_token_to_piece</c> gives for <paramref name="id"/> with special = false and no
    /// lstrip: U+2581 turned into spaces for normal tokens, the raw byte of a byte token, user-defined text verbatim,
    /// nothing for control, unknown, unused and undefined tokens.
    /// </summary>
    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        GgufVocabulary.CheckToken(id, VocabSize);
        return _pieces[id];
    }

    /// <summary>True for control tokens (BOS, EOS and the like), including those llama.cpp promotes by their text.</summary>
    public bool IsControl(int id)
    {
        GgufVocabulary.CheckToken(id, VocabSize);
        return (_attrs[id] & TokenAttr.Control) != 0;
    }

    /// <inheritdoc/>
    public bool IsEndOfGeneration(int id)
    {
        GgufVocabulary.CheckToken(id, VocabSize);
        return _attributes.IsEndOfGeneration(id);
    }

    /// <summary>
    /// Text of a token sequence as llama.cpp's <c>llama_detokenize</c> (remove_special = false, unparse_special = false)
    /// gives it, UTF-8 decoded with U+FFFD for invalid bytes: the pieces concatenated, except that with the space
    /// prefix on, one leading space of the first token's piece is dropped. Only the very first token counts, even when
    /// it renders empty: after a BOS the next token keeps its space.
    /// </summary>
    public string Decode(ReadOnlySpan<int> tokens) => _pieces.Decode(tokens, VocabSize, AddSpacePrefix);

    /// <summary>llm_tokenizer_spm_session::tokenize on one raw fragment.</summary>
    private void TokenizeFragment(ReadOnlySpan<char> raw, bool prefixSpace, List<int> output)
    {
        // Escape: every ASCII space (and the prefix space) becomes U+2581. Tabs and newlines stay as they are.
        var text = new char[(prefixSpace ? EscapedSpace.Length : 0) + raw.Length + (EscapedSpace.Length - 1) * raw.Count(' ')];
        var w = 0;
        if (prefixSpace) w = WriteEscapedSpace(text, w);
        foreach (var c in raw)
        {
            if (c == ' ') w = WriteEscapedSpace(text, w);
            else text[w++] = c;
        }

        // One symbol per UTF-8 character; a pair may merge when its text is a token, highest score first.
        var characters = new List<int>(text.Length);
        for (var offset = 0; offset < text.Length; offset += characters[^1])
            characters.Add(Math.Min(Utf8SequenceLength(text[offset]), text.Length - offset));
        bool Score(int start, int length, int leftLength, out float score)
        {
            var found = _lookup.TryGetValue(text.AsSpan(start, length), out var id);
            score = found ? _scores[id] : 0;
            return found;
        }

        // Resegment. llama.cpp also keeps a "rev_merge" map to split non-vocabulary symbols back into the pair that
        // formed them, but it only ever records pairs whose text is a token, and only consults it for symbols whose
        // text is not one, so it never applies: a symbol is either a token or falls back to bytes.
        foreach (var (start, length) in SymbolMerger.Merge<float>(characters, Score, BigramOrder.Instance))
        {
            var symbol = text.AsSpan(start, length);
            if (_lookup.TryGetValue(symbol, out var id))
            {
                output.Add(id);
                continue;
            }
            foreach (var c in symbol) output.Add(ByteToken((byte)c));
        }
    }

    private int ByteToken(byte b)
    {
        var id = _byteToken[b];
        if (id >= 0) return id;
        // llama.cpp aborts here (token_to_id.at throws); a vocabulary without byte fallback gets UNK instead.
        if (UnkId >= 0) return UnkId;
        throw new InvalidOperationException($"The vocabulary has no token for byte 0x{b:X2} and no unknown token.");
    }

    private static int WriteEscapedSpace(char[] text, int at)
    {
        foreach (var b in EscapedSpace) text[at++] = (char)b;
        return at;
    }

    /// <summary>llama.cpp's unicode_len_utf8: the length a lead byte announces; stray continuation bytes count as 1.</summary>
    private static int Utf8SequenceLength(char leadByte) => (leadByte >> 4) switch
    {
        < 0xC => 1,
        0xC or 0xD => 2,
        0xE => 3,
        _ => 4,
    };

    private static void AppendUnescaped(List<byte> output, byte[] text)
    {
        var rest = text.AsSpan();
        int at;
        while ((at = rest.IndexOf(EscapedSpace)) >= 0)
        {
            output.AddRange(rest[..at]);
            output.Add((byte)' ');
            rest = rest[(at + EscapedSpace.Length)..];
        }
        output.AddRange(rest);
    }

    /// <summary>
    /// Dequeue order of llama.cpp's bigram queue: highest score first; among equal scores the leftmost pair.
    /// (PriorityQueue dequeues the smallest, so "smaller" means "merge sooner".)
    /// </summary>
    private sealed class BigramOrder : IComparer<(float Priority, int Left)>
    {
        public static readonly BigramOrder Instance = new();

        public int Compare((float Priority, int Left) x, (float Priority, int Left) y)
        {
            if (x.Priority > y.Priority) return -1;
            if (x.Priority < y.Priority) return 1;
            return x.Left.CompareTo(y.Left);
        }
    }
}
