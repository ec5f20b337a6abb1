using SpecializedInfer.Gguf;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Models;

/// <summary>
/// The topology of a LLaMA-family model, read from GGUF metadata and the tensor table. Everything the
/// reference engine sizes its buffers by comes from here; nothing is assumed about a particular model.
/// </summary>
public sealed record LlamaConfig
{
    public required string Architecture { get; init; }
    public required int Dim { get; init; }
    public required int HiddenDim { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int RotaryDims { get; init; }
    public required float RopeTheta { get; init; }
    public required float NormEps { get; init; }
    public required int VocabSize { get; init; }
    public required int ContextLength { get; init; }

    /// <summary>True when there is no separate output matrix (<c>output.weight</c>, or a manifest's name for it) and the token embedding doubles as the output head.</summary>
    public required bool TiedOutput { get; init; }

    /// <summary>True when the file holds rotary frequency factors (Llama 3's <c>rope_freqs.weight</c>, or a manifest's name for it).</summary>
    public bool RopeFrequencyFactors { get; init; }

    /// <summary>How rotary pairs are formed (fixed by <see cref="Architecture"/>).</summary>
    public RopeStyle RopeStyle => DecoderArchitecture.RopeStyleOf(Architecture);

    /// <summary>Whether the query, key and value projections add biases (fixed by <see cref="Architecture"/>).</summary>
    public bool AttentionBias => DecoderArchitecture.HasAttentionBias(Architecture);

    public int KvDim => KvHeads * HeadDim;
    public int QueryDim => Heads * HeadDim;
    public int HeadsPerKvHead => Heads / KvHeads;

    /// <summary>Parameters in the weights the forward pass reads (the embedding counted once when tied).</summary>
    public long ParameterCount =>
        (long)VocabSize * Dim * (TiedOutput ? 1 : 2) + Dim
        + (long)Layers * (2L * Dim + (long)Dim * QueryDim * 2 + 2L * Dim * KvDim + 3L * Dim * HiddenDim);

    /// <summary>
    /// Reads the topology; a missing, mistyped, out-of-range or inconsistent value throws naming the key and offset.
    /// The rules are <see cref="LlamaModelRules"/>'s (shared with the llama2.c converter): sizes within the limits,
    /// finite positive epsilon and rope base, a block count covering every layer in the tensor table, and, when the
    /// file has a vocabulary, one token per embedding row. Tensors are looked up by <paramref name="names"/> (a
    /// manifest's <c>tensors</c>; GGUF's names when null).
    /// </summary>
    public static LlamaConfig FromGguf(GgufFile file, TensorNames? names = null)
    {
        names ??= TensorNames.Gguf;
        var arch = file.GetString(LlamaModelRules.ArchitectureKey);
        if (!DecoderArchitecture.IsDecoder(arch))
            throw new GgufFormatException(file.FilePath, file.Find(LlamaModelRules.ArchitectureKey)!.Offset,
                $"architecture {string.Join(" or ", DecoderArchitecture.Names.Select(n => $"'{n}'"))}, found '{arch}'");
        string K(string suffix) => LlamaModelRules.Key(arch, suffix);
        // Read as ints here (positive where a division needs it); the limits are checked by the rules below.
        int Size(string key) => (int)file.GetInteger(key, 1, int.MaxValue);
        int? OptionalSize(string key, int min = 1) => (int?)file.GetIntegerOrNull(key, min, int.MaxValue);
        var dim = Size(K("embedding_length"));
        var heads = Size(K("attention.head_count"));
        var kvHeads = OptionalSize(K("attention.head_count_kv")) ?? heads;
        // A head's width is the file's key_length when it says (Qwen3, Gemma, Mistral Nemo: heads × key_length need not
        // be dim; the query projection then maps dim to heads × key_length and the output projection back); otherwise
        // dim / heads, which the heads must then divide.
        var keyLength = OptionalSize(K("attention.key_length"));
        var headDim = keyLength ?? dim / heads;
        var valueLength = OptionalSize(K("attention.value_length"));
        var widths = (keyLength is null ? LlamaModelRules.CheckDerivedHeadWidth(arch, dim, heads) : null)
                     ?? (valueLength is { } v ? LlamaModelRules.CheckValueWidth(arch, headDim, v) : null);
        if (widths is not null) throw Violation(file, widths);

        var embeddingName = names.TokenEmbedding;
        var embedding = file.GetTensor(embeddingName);
        var vocab = embedding.Dimensions.Length == 2 ? (int)embedding.Dimensions[1] : 0;
        if (embedding.Dimensions.Length != 2 || embedding.Dimensions[0] != dim)
            throw new GgufFormatException(file.FilePath, embedding.HeaderOffset, $"tensor '{embeddingName}' of shape [{dim}, vocab], found {embedding.Shape}");
        var metaVocab = file.GetIntegerOrNull(K("vocab_size"), 1, int.MaxValue);
        if (metaVocab is not null && metaVocab != vocab)
            throw Bad(file, K("vocab_size"), $"vocab_size equal to {embeddingName}'s {vocab} rows, found {metaVocab}");

        var config = new LlamaConfig
        {
            Architecture = arch,
            Dim = dim,
            HiddenDim = Size(K("feed_forward_length")),
            Layers = Size(K("block_count")),
            Heads = heads,
            KvHeads = kvHeads,
            HeadDim = headDim,
            RotaryDims = OptionalSize(K("rope.dimension_count"), min: 0) ?? headDim,
            RopeTheta = file.GetFloatOrNull(K("rope.freq_base")) ?? 10000f,
            NormEps = file.GetFloat(K("attention.layer_norm_rms_epsilon")),
            VocabSize = vocab,
            ContextLength = Size(K("context_length")),
            TiedOutput = !file.HasTensor(names.Output),
            RopeFrequencyFactors = file.HasTensor(names.RopeFrequencies),
        };
        var broken = LlamaModelRules.CheckTopology(config, embeddingName)
                     ?? LlamaModelRules.CheckLayerTensors(file.Tensors.Select(t => t.Name), config.Layers, names, arch)
                     ?? (file.Find(LlamaModelRules.TokensKey) is { Value: string[] tokens } ? LlamaModelRules.CheckVocabularySize(tokens.Length, vocab, embeddingName) : null);
        if (broken is not null) throw Violation(file, broken);
        return config;
    }

    /// <summary>A broken rule as a format error at the key's offset (a metadata entry's, or a tensor's header entry).</summary>
    internal static GgufFormatException Violation(GgufFile file, ModelRuleViolation v) =>
        new(file.FilePath, file.Find(v.Key)?.Offset ?? (file.HasTensor(v.Key) ? file.GetTensor(v.Key).HeaderOffset : 0), v.Expected);

    private static GgufFormatException Bad(GgufFile file, string key, string expected) =>
        new(file.FilePath, file.Find(key)?.Offset ?? 0, $"metadata '{key}' to hold {expected}");
}
