using SpecializedInfer.Gguf;

namespace SpecializedInfer.Synthesis;

/// <summary>
/// The shape of a synthetic LLaMA model: real topologies (the presets) with seeded random weights, so
/// realistic sizes can be benchmarked and checked against llama.cpp without downloading anything.
/// </summary>
public sealed record SyntheticModelSpec
{
    public required int Dim { get; init; }
    public required int HiddenDim { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public int KvHeads { get; init; }
    public required int VocabSize { get; init; }
    public int ContextLength { get; init; } = 2048;
    public bool TiedOutput { get; init; } = true;
    public float RopeTheta { get; init; } = 10000f;
    public float NormEps { get; init; } = 1e-5f;
    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// Dimensions per query, key and value head, written as <c>attention.key_length</c> and <c>value_length</c>; null:
    /// dim / heads (and no such keys). Heads × head dimension may differ from dim, as in Qwen3 or Mistral Nemo.
    /// </summary>
    public int? HeadDim { get; init; }

    /// <summary>Dimensions per head the rotary embedding turns (even, at most the head dimension); null: the whole head.</summary>
    public int? RotaryDims { get; init; }

    /// <summary>Storage type of the weight matrices (norm vectors stay F32, as in llama.cpp's conversions).</summary>
    public GgmlType MatrixType { get; init; } = GgmlType.F32;

    public string Name { get; init; } = "synthetic";

    /// <summary>GGUF architecture: <c>llama</c>, or <c>qwen2</c> (adds query/key/value biases, half-split rotary pairs).</summary>
    public string Architecture { get; init; } = Planning.DecoderArchitecture.Llama;

    /// <summary>
    /// The vocabulary written: null for a SentencePiece-style one (<see cref="SyntheticVocabulary"/>), or a family's
    /// byte-level BPE vocabulary (Llama 3, Qwen2, SmolLM), as the presets of those families have.
    /// </summary>
    public SyntheticBpeVocabulary? ByteLevelVocabulary { get; init; }

    /// <summary>Writes Llama 3's rotary frequency factors (<c>rope_freqs.weight</c>) as its converter derives them from the <c>llama3</c> scaling.</summary>
    public bool Llama3RopeScaling { get; init; }

    public int EffectiveKvHeads => KvHeads == 0 ? Heads : KvHeads;

    public int EffectiveHeadDim => HeadDim ?? Dim / Heads;

    /// <summary>The query's width (heads × head dimension): the query projection's rows, the output projection's columns.</summary>
    public int QueryDim => Heads * EffectiveHeadDim;

    public int EffectiveRotaryDims => RotaryDims ?? EffectiveHeadDim;

    /// <summary>Named real shapes.</summary>
    public static IReadOnlyDictionary<string, SyntheticModelSpec> Presets { get; } = new Dictionary<string, SyntheticModelSpec>(StringComparer.OrdinalIgnoreCase)
    {
        ["stories260K"] = new() { Name = "stories260K", Dim = 64, HiddenDim = 172, Layers = 5, Heads = 8, KvHeads = 4, VocabSize = 512, ContextLength = 512 },
        ["stories15M"] = new() { Name = "stories15M", Dim = 288, HiddenDim = 768, Layers = 6, Heads = 6, VocabSize = 32000, ContextLength = 256 },
        ["stories42M"] = new() { Name = "stories42M", Dim = 512, HiddenDim = 1376, Layers = 8, Heads = 8, VocabSize = 32000, ContextLength = 1024 },
        ["stories110M"] = new() { Name = "stories110M", Dim = 768, HiddenDim = 2048, Layers = 12, Heads = 12, VocabSize = 32000, ContextLength = 1024 },
        ["tinyllama-1.1b"] = new() { Name = "tinyllama-1.1b", Dim = 2048, HiddenDim = 5632, Layers = 22, Heads = 32, KvHeads = 4, VocabSize = 32000, ContextLength = 2048, TiedOutput = false },
        ["smollm2-135m"] = new()
        {
            Name = "smollm2-135m", Dim = 576, HiddenDim = 1536, Layers = 30, Heads = 9, KvHeads = 3, VocabSize = 49152, ContextLength = 8192, RopeTheta = 100000f,
            ByteLevelVocabulary = SyntheticBpeVocabulary.SmolLm,
        },
        ["llama-3.2-1b"] = new()
        {
            Name = "llama-3.2-1b", Dim = 2048, HiddenDim = 8192, Layers = 16, Heads = 32, KvHeads = 8, VocabSize = 128256, ContextLength = 131072,
            RopeTheta = 500000f, Llama3RopeScaling = true, ByteLevelVocabulary = SyntheticBpeVocabulary.Llama3,
        },
        ["qwen2.5-0.5b"] = new()
        {
            Name = "qwen2.5-0.5b", Architecture = Planning.DecoderArchitecture.Qwen2, Dim = 896, HiddenDim = 4864, Layers = 24, Heads = 14, KvHeads = 2,
            VocabSize = 151936, ContextLength = 32768, RopeTheta = 1000000f, NormEps = 1e-6f, ByteLevelVocabulary = SyntheticBpeVocabulary.Qwen2,
        },
    };

    public void Validate()
    {
        static void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Check(Dim > 0 && HiddenDim > 0 && Layers > 0 && Heads > 0 && EffectiveKvHeads > 0, "The width, hidden width, layers, heads and KV heads must be positive.");
        Check(HeadDim is null ? Dim % Heads == 0 : HeadDim > 0, HeadDim is null ? $"The heads ({Heads}) must divide the width ({Dim}) when no head dimension is given." : $"The head dimension ({HeadDim}) must be positive.");
        Check(Heads % EffectiveKvHeads == 0, $"The KV heads ({EffectiveKvHeads}) must divide the heads ({Heads}).");
        Check(EffectiveRotaryDims >= 0 && EffectiveRotaryDims % 2 == 0 && EffectiveRotaryDims <= EffectiveHeadDim,
            $"The rotary dimensions ({EffectiveRotaryDims}) must be even and at most the head dimension ({EffectiveHeadDim}).");
        if (ByteLevelVocabulary is { } bpe)
            Check(VocabSize >= bpe.MinimumSize, $"The vocabulary must have at least {bpe.MinimumSize} tokens (256 byte characters, {bpe.Specials.Count} special tokens), not {VocabSize}.");
        else
            Check(VocabSize >= SyntheticVocabulary.MinimumSize, $"The vocabulary must have at least {SyntheticVocabulary.MinimumSize} tokens (specials, 256 bytes, single characters), not {VocabSize}.");
        Check(ContextLength > 0, "The context length must be positive.");
        Check(Planning.DecoderArchitecture.IsDecoder(Architecture), $"The architecture must be one of {string.Join(", ", Planning.DecoderArchitecture.Names)}.");
        Check(MatrixType is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0, "The matrix type must be F32, F16, BF16 or Q8_0.");
        Check(MatrixType != GgmlType.Q8_0 || (Dim % 32 == 0 && HiddenDim % 32 == 0 && QueryDim % 32 == 0), "Q8_0 needs the width, the hidden width and heads × head dimension to be multiples of 32.");
        // The loader's own rules (sizes within its limits...), so that a synthetic file always loads.
        var headDim = EffectiveHeadDim;
        var broken = Models.LlamaModelRules.CheckTopology(new Models.LlamaConfig
        {
            Architecture = Architecture, Dim = Dim, HiddenDim = HiddenDim, Layers = Layers, Heads = Heads, KvHeads = EffectiveKvHeads, HeadDim = headDim,
            RotaryDims = EffectiveRotaryDims, RopeTheta = RopeTheta, NormEps = NormEps, VocabSize = VocabSize, ContextLength = ContextLength, TiedOutput = TiedOutput,
        });
        Check(broken is null, $"The model would not load: expected {broken?.Expected}.");
    }
}
