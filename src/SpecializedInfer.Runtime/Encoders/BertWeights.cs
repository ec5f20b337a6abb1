using SpecializedInfer.Gguf;

namespace SpecializedInfer.Encoders;

/// <summary>A linear layer: <c>y = W x + b</c>, W stored as rows of <see cref="Inputs"/> floats.</summary>
public readonly record struct BertLinear(float[] Weight, float[] Bias, int Inputs, int Outputs);

/// <summary>A LayerNorm's scale and shift.</summary>
public readonly record struct BertNorm(float[] Scale, float[] Shift);

/// <summary>The tensors of one encoder block (post-LayerNorm: attention, add, norm, feed-forward, add, norm).</summary>
public sealed record BertLayerWeights(
    BertLinear Query, BertLinear Key, BertLinear Value, BertLinear AttentionOutput, BertNorm AttentionNorm,
    BertLinear Up, BertLinear Down, BertNorm OutputNorm);

/// <summary>
/// The weights of a BERT GGUF (llama.cpp's layout), every shape checked against <see cref="BertConfig"/> with the
/// tensor named in the error. Read into managed arrays (F32, F16, BF16 and Q8_0 alike), so the file is not held open.
/// </summary>
public sealed class BertWeights
{
    private BertWeights(BertConfig config, BertTokenizerSource tokenizer, float[] tokenEmbedding, float[] tokenTypes,
        float[] positions, BertNorm embeddingNorm, BertLayerWeights[] layers)
    {
        Config = config;
        TokenizerSource = tokenizer;
        TokenEmbedding = tokenEmbedding;
        TokenTypes = tokenTypes;
        Positions = positions;
        EmbeddingNorm = embeddingNorm;
        Layers = layers;
    }

    public BertConfig Config { get; }
    internal BertTokenizerSource TokenizerSource { get; }

    /// <summary>The vocabulary the file carries, as the tokenizer every encoder of these weights uses.</summary>
    public Tokenization.BertTokenizer Tokenizer => TokenizerSource.Tokenizer;
    public float[] TokenEmbedding { get; }
    public float[] TokenTypes { get; }
    public float[] Positions { get; }
    public BertNorm EmbeddingNorm { get; }
    public IReadOnlyList<BertLayerWeights> Layers { get; }

    public static BertWeights Load(string path)
    {
        using var file = GgufFile.Open(path);
        return Load(file);
    }

    /// <summary>The weights of a BERT GGUF already open (whose header a caller has read for its own checks).</summary>
    public static BertWeights Load(GgufFile file)
    {
        var c = BertConfig.FromGguf(file);
        float[] Tensor(string name, params long[] dims)
        {
            var info = file.GetTensor(name);
            if (!info.Dimensions.SequenceEqual(dims))
                throw new GgufFormatException(file.FilePath, info.HeaderOffset, $"tensor '{name}' of shape [{string.Join(", ", dims)}], found {info.Shape}");
            return file.ReadAsFloat32(name);
        }
        BertNorm Norm(string prefix) => new(Tensor(prefix + ".weight", c.Dim), Tensor(prefix + ".bias", c.Dim));
        BertLinear Linear(int layer, string part, int inputs, int outputs) => new(
            Tensor(BertConfig.Keys.Layer(layer, part, "weight"), inputs, outputs),
            Tensor(BertConfig.Keys.Layer(layer, part, "bias"), outputs), inputs, outputs);
        var layers = new BertLayerWeights[c.Layers];
        for (var i = 0; i < c.Layers; i++)
            layers[i] = new BertLayerWeights(
                Linear(i, "attn_q", c.Dim, c.Dim), Linear(i, "attn_k", c.Dim, c.Dim), Linear(i, "attn_v", c.Dim, c.Dim),
                Linear(i, "attn_output", c.Dim, c.Dim), Norm($"blk.{i}.attn_output_norm"),
                Linear(i, "ffn_up", c.Dim, c.HiddenDim), Linear(i, "ffn_down", c.HiddenDim, c.Dim), Norm($"blk.{i}.layer_output_norm"));
        return new BertWeights(c, new BertTokenizerSource(file), Tensor(BertConfig.Keys.TokenEmbedding, c.Dim, c.VocabSize),
            Tensor(BertConfig.Keys.TokenTypes, c.Dim, c.TokenTypes), Tensor(BertConfig.Keys.PositionEmbedding, c.Dim, c.ContextLength),
            Norm(BertConfig.Keys.EmbeddingNorm), layers);
    }
}

/// <summary>The vocabulary a BERT GGUF carries, captured while the file is open.</summary>
internal sealed class BertTokenizerSource(GgufFile file)
{
    public Tokenization.BertTokenizer Tokenizer { get; } = Tokenization.BertTokenizer.FromGguf(file, BertConfig.FromGguf(file).ContextLength);
}
