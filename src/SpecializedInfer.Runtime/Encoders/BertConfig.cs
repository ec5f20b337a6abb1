using SpecializedInfer.Gguf;

namespace SpecializedInfer.Encoders;

/// <summary>How token states become one sentence embedding (llama.cpp's <c>bert.pooling_type</c> values).</summary>
public enum BertPooling
{
    /// <summary>Mask-weighted mean over every token, [CLS] and [SEP] included (sentence-transformers' mean pooling).</summary>
    Mean = 1,

    /// <summary>The state of the first token ([CLS]).</summary>
    Cls = 2,
}

/// <summary>
/// The topology of a BERT-family encoder (absolute positions, token types, post-LayerNorm blocks, GELU (erf),
/// bidirectional attention), as llama.cpp's BERT GGUF layout stores it. The ONNX reader fills it from the graph,
/// the GGUF writer stores it under <see cref="Keys"/>, and <see cref="FromGguf"/> reads it back.
/// </summary>
public sealed record BertConfig
{
    public required int Dim { get; init; }
    public required int HiddenDim { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int VocabSize { get; init; }
    public required int ContextLength { get; init; }
    public required int TokenTypes { get; init; }
    public required float NormEps { get; init; }
    public BertPooling Pooling { get; init; } = BertPooling.Mean;

    public int HeadDim => Dim / Heads;

    /// <summary>GGUF metadata keys and tensor names of llama.cpp's BERT layout (llama-arch.cpp, convert_hf_to_gguf.py).</summary>
    public static class Keys
    {
        public const string Architecture = "bert";
        public const string ContextLength = "bert.context_length";
        public const string EmbeddingLength = "bert.embedding_length";
        public const string FeedForwardLength = "bert.feed_forward_length";
        public const string BlockCount = "bert.block_count";
        public const string HeadCount = "bert.attention.head_count";
        public const string LayerNormEpsilon = "bert.attention.layer_norm_epsilon";
        public const string Causal = "bert.attention.causal";
        public const string PoolingType = "bert.pooling_type";
        public const string TokenTypeCount = "tokenizer.ggml.token_type_count";

        public const string TokenEmbedding = "token_embd.weight";
        public const string TokenTypes = "token_types.weight";
        public const string PositionEmbedding = "position_embd.weight";
        public const string EmbeddingNorm = "token_embd_norm";

        /// <summary>A per-layer tensor: <c>blk.N.part.weight</c> or <c>.bias</c>.</summary>
        public static string Layer(int layer, string part, string kind) =>
            $"blk.{layer.ToString(System.Globalization.CultureInfo.InvariantCulture)}.{part}.{kind}";
    }

    /// <summary>Reads the topology of a BERT GGUF; a missing, mistyped or inconsistent value throws naming the key.</summary>
    public static BertConfig FromGguf(GgufFile file)
    {
        var arch = file.GetString("general.architecture");
        if (arch != Keys.Architecture)
            throw new GgufFormatException(file.FilePath, file.Find("general.architecture")!.Offset, $"architecture '{Keys.Architecture}', found '{arch}'");
        int Size(string key) => (int)file.GetInteger(key, 1, int.MaxValue);
        var dim = Size(Keys.EmbeddingLength);
        var heads = Size(Keys.HeadCount);
        if (dim % heads != 0)
            throw new GgufFormatException(file.FilePath, file.Find(Keys.HeadCount)!.Offset, $"a head count dividing the embedding length {dim}, found {heads}");
        var embedding = file.GetTensor(Keys.TokenEmbedding);
        if (embedding.Dimensions.Length != 2 || embedding.Dimensions[0] != dim)
            throw new GgufFormatException(file.FilePath, embedding.HeaderOffset, $"tensor '{Keys.TokenEmbedding}' of shape [{dim}, vocab], found {embedding.Shape}");
        var types = file.GetTensor(Keys.TokenTypes);
        var pooling = file.GetIntegerOrNull(Keys.PoolingType, 0, 10) ?? (long)BertPooling.Mean;
        if (pooling is not ((long)BertPooling.Mean or (long)BertPooling.Cls))
            throw new GgufFormatException(file.FilePath, file.Find(Keys.PoolingType)!.Offset, $"pooling type 1 (mean) or 2 (CLS), found {pooling}");
        var eps = file.GetFloat(Keys.LayerNormEpsilon);
        if (!(eps > 0 && eps < 1))
            throw new GgufFormatException(file.FilePath, file.Find(Keys.LayerNormEpsilon)!.Offset, $"a layer norm epsilon between 0 and 1, found {eps}");
        return new BertConfig
        {
            Dim = dim,
            HiddenDim = Size(Keys.FeedForwardLength),
            Layers = Size(Keys.BlockCount),
            Heads = heads,
            VocabSize = (int)embedding.Dimensions[1],
            ContextLength = Size(Keys.ContextLength),
            TokenTypes = types.Dimensions.Length == 2 ? (int)types.Dimensions[1] : 1,
            NormEps = eps,
            Pooling = (BertPooling)pooling,
        };
    }
}
