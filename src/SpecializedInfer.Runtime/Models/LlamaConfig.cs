using SpecializedInfer.Gguf;

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

    /// <summary>True when there is no separate <c>output.weight</c> and the token embedding doubles as the output head.</summary>
    public required bool TiedOutput { get; init; }

    public int KvDim => KvHeads * HeadDim;
    public int QueryDim => Heads * HeadDim;
    public int HeadsPerKvHead => Heads / KvHeads;

    /// <summary>Parameters in the weights the forward pass reads (the embedding counted once when tied).</summary>
    public long ParameterCount =>
        (long)VocabSize * Dim * (TiedOutput ? 1 : 2) + Dim
        + (long)Layers * (2L * Dim + (long)Dim * QueryDim * 2 + 2L * Dim * KvDim + 3L * Dim * HiddenDim);

    /// <summary>Reads the topology; any missing, out-of-range or inconsistent value throws naming the key and offset.</summary>
    public static LlamaConfig FromGguf(GgufFile file)
    {
        var arch = file.GetString("general.architecture");
        if (arch is not "llama")
            throw new GgufFormatException(file.FilePath, file.Find("general.architecture")!.Offset, $"architecture 'llama', found '{arch}'");
        string K(string suffix) => $"{arch}.{suffix}";
        const int big = 1 << 20;
        var dim = (int)file.GetInteger(K("embedding_length"), 1, big);
        var heads = (int)file.GetInteger(K("attention.head_count"), 1, 4096);
        var kvHeads = (int)(file.GetIntegerOrNull(K("attention.head_count_kv"), 1, 4096) ?? heads);
        if (dim % heads != 0)
            throw Bad(file, K("attention.head_count"), $"a head count dividing embedding_length {dim}, found {heads}");
        if (heads % kvHeads != 0)
            throw Bad(file, K("attention.head_count_kv"), $"a KV head count dividing head_count {heads}, found {kvHeads}");
        var headDim = (int)(file.GetIntegerOrNull(K("attention.key_length"), 1, big) ?? dim / heads);
        var rotary = (int)(file.GetIntegerOrNull(K("rope.dimension_count"), 0, big) ?? headDim);
        if (rotary > headDim || rotary % 2 != 0)
            throw Bad(file, K("rope.dimension_count"), $"an even rotary dimension count of at most the head dimension {headDim}, found {rotary}");

        var embedding = file.GetTensor("token_embd.weight");
        var vocab = embedding.Dimensions.Length == 2 ? (int)embedding.Dimensions[1] : 0;
        if (embedding.Dimensions.Length != 2 || embedding.Dimensions[0] != dim)
            throw new GgufFormatException(file.FilePath, embedding.HeaderOffset, $"tensor 'token_embd.weight' of shape [{dim}, vocab], found {embedding.Shape}");
        var metaVocab = file.GetIntegerOrNull(K("vocab_size"), 1, int.MaxValue);
        if (metaVocab is not null && metaVocab != vocab)
            throw Bad(file, K("vocab_size"), $"vocab_size equal to token_embd.weight's {vocab} rows, found {metaVocab}");

        return new LlamaConfig
        {
            Architecture = arch,
            Dim = dim,
            HiddenDim = (int)file.GetInteger(K("feed_forward_length"), 1, big),
            Layers = (int)file.GetInteger(K("block_count"), 1, 4096),
            Heads = heads,
            KvHeads = kvHeads,
            HeadDim = headDim,
            RotaryDims = rotary,
            RopeTheta = file.GetFloatOrNull(K("rope.freq_base")) ?? 10000f,
            NormEps = file.GetFloat(K("attention.layer_norm_rms_epsilon")),
            VocabSize = vocab,
            ContextLength = (int)file.GetInteger(K("context_length"), 1, 1 << 24),
            TiedOutput = !file.HasTensor("output.weight"),
        };
    }

    private static GgufFormatException Bad(GgufFile file, string key, string expected) =>
        new(file.FilePath, file.Find(key)?.Offset ?? 0, $"metadata '{key}' to hold {expected}");
}
