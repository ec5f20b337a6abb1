using SpecializedInfer.Gguf;
using SpecializedInfer.Synthesis;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Tests.Support;

/// <summary>
/// A byte-level BPE vocabulary trained on <see cref="BpeTrainingText"/> by <see cref="ByteLevelBpeTraining"/> (what
/// si synth writes too), with special tokens covering llama.cpp's special cases: the 256 byte characters come first,
/// then one token per merge, then the special tokens. Written into a GGUF with a synthetic LLaMA's weights, llama.cpp
/// loads it.
/// </summary>
public sealed record BpeVocabulary(string[] Tokens, int[] Types, string[] Merges)
{
    /// <summary>Special tokens and their GGUF types, including cases llama.cpp treats specially.</summary>
    public static readonly (string Text, int Type)[] Specials =
    [
        ("<|begin_of_text|>", 3), ("<|end_of_text|>", 3), ("<|eot_id|>", 3), ("<|start_header_id|>", 3), ("<|end_header_id|>", 3),
        ("<|im_start|>", 3), ("<|im_end|>", 3), ("<|endoftext|>", 3), ("<|user|>", 3), ("<|assistant|>", 3), ("<|system|>", 3),
        ("<tool_call>", 4),              // user-defined: matched even without parse_special
        ("<tool", 4),                    // a user-defined prefix of the one above: the longer wins
        ("⟨sep⟩", 4),                    // user-defined outside the byte alphabet: rendered verbatim
        ("<|fim_prefix|>", 1),           // typed normal: llama.cpp promotes it to control by its text
        ("<|reserved_special_token_0|>", 3),
        ("中文", 1),                      // a normal token outside the byte alphabet: llama.cpp's [UNK_BYTE_...] rendering
        ("<unused>", 5),                 // unused: renders as nothing
    ];

    public int IdOf(string text) => Array.IndexOf(Tokens, text);

    public static BpeVocabulary Train(int mergeCount)
    {
        var (tokens, merges) = ByteLevelBpeTraining.Train(BpeTrainingText.Text, mergeCount);
        var types = Enumerable.Repeat(1, tokens.Count).ToList();
        foreach (var (text, type) in Specials)
        {
            tokens.Add(text);
            types.Add(type);
        }
        return new BpeVocabulary(tokens.ToArray(), types.ToArray(), merges.ToArray());
    }

    /// <summary>
    /// Writes a synthetic LLaMA model (tiny, seeded weights) whose vocabulary is this one, with
    /// <c>tokenizer.ggml.pre = <paramref name="pre"/></c> and the given extra metadata (flags, chat template).
    /// </summary>
    public void WriteModel(string path, string pre, int bosId, int eosId, IEnumerable<(string Key, GgufValue Value)>? extra = null,
        SyntheticModelSpec? shape = null)
    {
        var spec = (shape ?? new SyntheticModelSpec { Dim = 32, HiddenDim = 64, Layers = 2, Heads = 4, KvHeads = 2, VocabSize = 1, ContextLength = 256 })
            with { VocabSize = Tokens.Length, Name = "bpe-" + pre };
        var weights = path + ".weights.gguf";
        SyntheticModel.Write(spec, weights);
        try
        {
            using var source = GgufFile.Open(weights);
            var writer = new GgufWriter { Alignment = source.Alignment };
            foreach (var (key, value) in source.Metadata)
                if (!key.StartsWith("tokenizer.", StringComparison.Ordinal)) writer.Add(key, value);
            writer.Add("tokenizer.ggml.model", "gpt2");
            writer.Add("tokenizer.ggml.pre", pre);
            writer.Add("tokenizer.ggml.tokens", Tokens);
            writer.Add("tokenizer.ggml.token_type", Types);
            writer.Add("tokenizer.ggml.merges", Merges);
            writer.Add("tokenizer.ggml.bos_token_id", (uint)bosId);
            writer.Add("tokenizer.ggml.eos_token_id", (uint)eosId);
            foreach (var (key, value) in extra ?? []) writer.Add(key, value);
            foreach (var t in source.Tensors) writer.AddTensor(t.Name, t.Dimensions, t.Type, source.GetBytes(t));
            writer.Write(path);
        }
        finally
        {
            File.Delete(weights);
        }
    }
}
