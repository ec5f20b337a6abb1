namespace SpecializedInfer.Planning;

/// <summary>
/// Tensor names of a LLaMA-family model. Per-layer names carry a <c>{layer}</c> placeholder.
/// </summary>
public sealed record TensorNames
{
    public string TokenEmbedding { get; init; } = "token_embd.weight";
    public string OutputNorm { get; init; } = "output_norm.weight";
    public string Output { get; init; } = "output.weight";
    public string AttentionNorm { get; init; } = "blk.{layer}.attn_norm.weight";
    public string Query { get; init; } = "blk.{layer}.attn_q.weight";
    public string Key { get; init; } = "blk.{layer}.attn_k.weight";
    public string Value { get; init; } = "blk.{layer}.attn_v.weight";
    public string AttentionOutput { get; init; } = "blk.{layer}.attn_output.weight";
    public string FeedForwardNorm { get; init; } = "blk.{layer}.ffn_norm.weight";
    public string Gate { get; init; } = "blk.{layer}.ffn_gate.weight";
    public string Up { get; init; } = "blk.{layer}.ffn_up.weight";
    public string Down { get; init; } = "blk.{layer}.ffn_down.weight";

    /// <summary>Qwen2's projection biases (read when the architecture has them).</summary>
    public string QueryBias { get; init; } = "blk.{layer}.attn_q.bias";
    public string KeyBias { get; init; } = "blk.{layer}.attn_k.bias";
    public string ValueBias { get; init; } = "blk.{layer}.attn_v.bias";

    /// <summary>Llama 3's rotary frequency factors, one per rotated pair (read when <see cref="ModelManifest.RopeFrequencyFactors"/>).</summary>
    public string RopeFrequencies { get; init; } = "rope_freqs.weight";

    public static TensorNames Gguf { get; } = new();

    public static string ForLayer(string pattern, int layer) => pattern.Replace("{layer}", layer.ToString(System.Globalization.CultureInfo.InvariantCulture));
}

/// <summary>
/// The exact topology a specialized engine is generated for (a <c>NAME.model.json</c> file). Written by
/// <c>si manifest</c> from a model file; the engine refuses weights that do not match it.
/// </summary>
public sealed record ModelManifest
{
    public string Name { get; init; } = "";
    public string Architecture { get; init; } = "llama";
    public int Dim { get; init; }
    public int HiddenDim { get; init; }
    public int Layers { get; init; }
    public int Heads { get; init; }
    public int KvHeads { get; init; }
    public int HeadDim { get; init; }
    public int RotaryDims { get; init; }
    public double RopeTheta { get; init; } = 10000;
    public double NormEps { get; init; } = 1e-5;
    public int VocabSize { get; init; }
    public int ContextLength { get; init; }
    public bool TiedOutput { get; init; }

    /// <summary>
    /// True when the file scales the rotary frequencies (Llama 3's <c>rope_freqs.weight</c>, written by the converter
    /// from the <c>llama3</c> rope scaling): pair i turns by position · base^(−2i/n) / factor[i]. The factors are data,
    /// read from the file at load time.
    /// </summary>
    public bool RopeFrequencyFactors { get; init; }

    /// <summary>
    /// The type every layer's matrices are stored in (<see cref="WeightTypes"/>: "f32", "q8_0", ...), or null when
    /// the manifest does not say (older manifests; files whose layers mix types). Engines refuse a file whose layer
    /// matrices are of another type.
    /// </summary>
    public string? WeightType { get; init; }
    public TensorNames Tensors { get; init; } = TensorNames.Gguf;

    /// <summary>The encoder's facts when <see cref="Architecture"/> is <c>bert</c>; null for decoders.</summary>
    public EncoderFacts? Encoder { get; init; }

    public int KvDim => KvHeads * HeadDim;
    public int QueryDim => Heads * HeadDim;

    /// <summary>How rotary pairs are formed (fixed by the architecture).</summary>
    public RopeStyle RopeStyle => DecoderArchitecture.RopeStyleOf(Architecture);

    /// <summary>Whether the query, key and value projections carry biases (fixed by the architecture).</summary>
    public bool AttentionBias => DecoderArchitecture.HasAttentionBias(Architecture);
}
