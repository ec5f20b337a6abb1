namespace SpecializedInfer.Synthesis;

/// <summary>
/// A byte-level BPE vocabulary as a real model family ships it (<c>tokenizer.ggml.model = gpt2</c>, its pre-tokenizer
/// name, its special tokens), for synthetic models of that family's shape: the 256 byte characters, the merges
/// <see cref="ByteLevelBpeTraining"/> learns from <see cref="BpeTrainingText"/> (as many as fit), the family's specials,
/// then reserved control tokens up to the embedding's rows. llama.cpp loads it and tokenizes with it.
/// </summary>
public sealed record SyntheticBpeVocabulary(string Pre, IReadOnlyList<string> Specials, string Bos, string Eos)
{
    /// <summary>Llama 3.x: the <c>llama-bpe</c> pre-tokenizer, begin/end of text, the chat header and turn markers.</summary>
    public static SyntheticBpeVocabulary Llama3 { get; } = new("llama-bpe",
        ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], "<|begin_of_text|>", "<|end_of_text|>");

    /// <summary>Qwen2 / Qwen2.5: the <c>qwen2</c> pre-tokenizer (single digits), ChatML's markers.</summary>
    public static SyntheticBpeVocabulary Qwen2 { get; } = new("qwen2", ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], "<|endoftext|>", "<|im_end|>");

    /// <summary>SmolLM / SmolLM2: the <c>smollm</c> pre-tokenizer, ChatML's markers.</summary>
    public static SyntheticBpeVocabulary SmolLm { get; } = new("smollm", ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], "<|im_start|>", "<|im_end|>");

    /// <summary>The fewest tokens a vocabulary of this family can have: the byte characters and the specials.</summary>
    public int MinimumSize => 256 + Specials.Count;

    /// <summary>GGUF token types: normal text, and control (specials and reserved).</summary>
    private const int NormalType = 1, ControlType = 3;

    /// <summary>The vocabulary of <paramref name="size"/> tokens: tokens, their GGUF types, the merges, and the ids of BOS and EOS.</summary>
    public (string[] Tokens, int[] Types, string[] Merges, int Bos, int Eos) Create(int size)
    {
        if (size < MinimumSize) throw new ArgumentOutOfRangeException($"A {Pre} vocabulary needs at least {MinimumSize} tokens, not {size}.", innerException: null);
        // Each merge adds at most one token, so the merges fit beside the specials. Training stops when no pair occurs
        // twice in the text, far below a real vocabulary's rows: reserved tokens fill the rest.
        var (tokens, merges) = ByteLevelBpeTraining.Train(BpeTrainingText.Text, size - MinimumSize);
        var types = Enumerable.Repeat(NormalType, tokens.Count).ToList();
        tokens.AddRange(Specials);
        types.AddRange(Specials.Select(_ => ControlType));
        for (var reserved = 0; tokens.Count < size; reserved++)
        {
            tokens.Add($"<|reserved_special_token_{reserved}|>");
            types.Add(ControlType);
        }
        return (tokens.ToArray(), types.ToArray(), merges.ToArray(), tokens.IndexOf(Bos), tokens.IndexOf(Eos));
    }
}
