namespace SpecializedInfer.Tokenization;

/// <summary>
/// A GGUF vocabulary as llama.cpp tokenizes and renders it: <see cref="LlamaTokenizer"/> for SentencePiece
/// (<c>tokenizer.ggml.model = llama</c>), <see cref="ByteLevelBpeTokenizer"/> for GPT-2 style byte-level BPE
/// (<c>gpt2</c>). <see cref="Tokenizers.FromGguf(Gguf.GgufFile)"/> picks the one a file names. Implementations are immutable and
/// safe to share between threads.
/// </summary>
public interface ITokenizer
{
    /// <summary>Number of tokens in the vocabulary.</summary>
    int VocabSize { get; }

    /// <summary>Beginning-of-sequence token id, or -1.</summary>
    int BosId { get; }

    /// <summary>End-of-sequence token id, or -1.</summary>
    int EosId { get; }

    /// <summary>Whether <see cref="Encode"/> with addSpecial puts <see cref="BosId"/> first (the model's add_bos flag).</summary>
    bool ShouldAddBos { get; }

    /// <summary>Whether <see cref="Encode"/> with addSpecial puts <see cref="EosId"/> last (the model's add_eos flag).</summary>
    bool ShouldAddEos { get; }

    /// <summary>
    /// Whether raw text gets a leading space before tokenizing; if so, the first rendered piece of a text loses one
    /// leading space again (SentencePiece's convention; off for byte-level BPE).
    /// </summary>
    bool AddSpacePrefix { get; }

    /// <summary>
    /// llama.cpp's <c>llama_tokenize</c>. <paramref name="addSpecial"/> adds BOS and EOS as the model's flags say;
    /// <paramref name="parseSpecial"/> matches control-token text such as "&lt;|im_start|&gt;" as the token (user-defined
    /// tokens are matched either way). Lone surrogates are encoded as U+FFFD.
    /// </summary>
    int[] Encode(string text, bool addSpecial, bool parseSpecial);

    /// <summary>
    /// The bytes llama.cpp's <c>llama_token_to_piece</c> gives for <paramref name="id"/> with special = false and no
    /// lstrip: control and unknown tokens render as nothing. A piece may be part of a UTF-8 character
    /// (<see cref="Utf8StreamDecoder"/> reassembles a stream of them).
    /// </summary>
    ReadOnlySpan<byte> TokenBytes(int id);

    /// <summary>True for control tokens (BOS, EOS, chat markers), including those llama.cpp promotes by their text.</summary>
    bool IsControl(int id);

    /// <summary>True for the tokens that end generation in llama.cpp (<c>llama_vocab_is_eog</c>): EOS, EOT, EOM and the
    /// end-of-turn markers it recognises by text.</summary>
    bool IsEndOfGeneration(int id);

    /// <summary>The text of a token sequence as llama.cpp's <c>llama_detokenize</c> (remove_special = false,
    /// unparse_special = false) gives it, UTF-8 decoded with U+FFFD for invalid bytes.</summary>
    string Decode(ReadOnlySpan<int> tokens);
}
