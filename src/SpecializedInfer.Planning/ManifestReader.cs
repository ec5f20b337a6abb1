using System.Collections.Generic;
using SpecializedInfer.Planning.Json;

namespace SpecializedInfer.Planning;

/// <summary>The outcome of reading a manifest: the manifest when it has no errors, and every problem found.</summary>
public sealed record ManifestReadResult(ModelManifest? Manifest, IReadOnlyList<PlanProblem> Problems)
{
    private readonly EquatableArray<PlanProblem> _problems = Problems.ToEquatableArray();

    public IReadOnlyList<PlanProblem> Problems { get => _problems; init => _problems = value.ToEquatableArray(); }
}

/// <summary>Reads and checks a <c>NAME.model.json</c> file. Never throws.</summary>
public static class ManifestReader
{
    public const string Extension = ".model.json";

    private static readonly string[] Known =
    {
        "$schema", "name", "architecture", "dim", "hiddenDim", "layers", "heads", "kvHeads", "headDim", "rotaryDims",
        "ropeTheta", "ropeFrequencyFactors", "normEps", "vocabSize", "contextLength", "tiedOutput", "weightType", "tensors",
        "tokenTypes", "positions", "norm", "activation", "attention", "pooling", "normalize",
    };

    /// <summary>Properties only a <c>bert</c> manifest has, and those only a <c>llama</c> manifest has.</summary>
    private static readonly string[] EncoderOnly = { "tokenTypes", "positions", "norm", "activation", "attention", "pooling", "normalize" };
    private static readonly string[] DecoderOnly = { "kvHeads", "headDim", "rotaryDims", "ropeTheta", "ropeFrequencyFactors", "tiedOutput", "tensors" };

    private static readonly string[] KnownTensors =
    {
        "tokenEmbedding", "outputNorm", "output", "attentionNorm", "query", "key", "value", "attentionOutput",
        "feedForwardNorm", "gate", "up", "down", "queryBias", "keyBias", "valueBias", "ropeFrequencies",
    };

    /// <summary>
    /// Reads a manifest an engine is generated from: the architectures the generator emits
    /// (<see cref="DecoderArchitecture.Generated"/> and <c>bert</c> encoders).
    /// </summary>
    public static ManifestReadResult Read(string text, string filePath) => Read(text, filePath, allowEncoders: true, forGenerator: true);

    /// <summary>
    /// Reads a manifest the reference engine runs: every decoder architecture, and with <paramref name="allowEncoders"/>
    /// <c>bert</c> manifests too (the reference encoder runs them). <paramref name="forGenerator"/>: only what the
    /// generator emits.
    /// </summary>
    public static ManifestReadResult Read(string text, string filePath, bool allowEncoders, bool forGenerator = false)
    {
        var cx = new JsonReadContext(filePath);
        var obj = cx.ParseObject(text, "A model manifest");
        if (obj is null) return new ManifestReadResult(null, cx.Problems());
        cx.CheckProperties(obj, "the model manifest", Known);

        const string what = "The model manifest";
        var archNode = cx.AsString(cx.Required(obj, "architecture", what), "'architecture'");
        var isBert = archNode is not null && archNode.Value == "bert";
        if (archNode is not null && !DecoderArchitecture.IsDecoder(archNode.Value) && !isBert)
            cx.Report(ProblemIds.UnsupportedArchitecture, $"Architecture '{JsonReadContext.Echo(archNode.Value)}' is not supported yet; supported: {string.Join(", ", DecoderArchitecture.Names)}, bert", archNode.Range);
        else if (isBert && !allowEncoders)
            cx.Report(ProblemIds.UnsupportedArchitecture, "Architecture 'bert' is an encoder; a language model's engine cannot run it (BertEncoder or a generated encoder does)", archNode!.Range);
        else if (forGenerator && archNode is not null && !isBert && System.Array.IndexOf(DecoderArchitecture.Generated, archNode.Value) < 0)
            cx.Report(ProblemIds.UnsupportedArchitecture, $"Architecture '{archNode.Value}' has no generated engine yet; the reference engine (ReferenceEngine, si run --engine reference) runs it", archNode.Range);
        foreach (var property in isBert ? DecoderOnly : EncoderOnly)
            if (obj.Find(property) is { } misplaced)
                cx.Report(ProblemIds.UnknownProperty, $"'{property}' applies to {(isBert ? "llama" : "bert")} manifests only", misplaced.Value.Range);
        var encoder = isBert ? ReadEncoderFacts(cx, obj) : null;
        // The limits are the model loader's (ModelLimits): a manifest describes a model some file could hold.
        int? Size(string name, int max, bool required = true)
        {
            var node = required ? cx.Required(obj, name, what) : obj.Find(name)?.Value;
            return cx.AsInt(node, $"'{name}'", 1, max);
        }
        var dim = Size("dim", ModelLimits.MaxWidth);
        var hidden = Size("hiddenDim", ModelLimits.MaxWidth);
        var layers = Size("layers", ModelLimits.MaxLayers);
        var heads = Size("heads", ModelLimits.MaxHeads);
        var kvHeads = Size("kvHeads", ModelLimits.MaxHeads, required: false) ?? heads;
        var headDimNode = obj.Find("headDim")?.Value;
        var headDim = cx.AsInt(headDimNode, "'headDim'", 1, ModelLimits.MaxWidth) ?? (dim is not null && heads is not null && heads > 0 ? dim / heads : null);
        var rotaryNode = obj.Find("rotaryDims")?.Value;
        // An encoder's positions are absolute embeddings: no rotary dimensions.
        var rotary = isBert ? 0 : cx.AsInt(rotaryNode, "'rotaryDims'", 0, ModelLimits.MaxWidth) ?? headDim;
        var ropeTheta = cx.AsDouble(obj.Find("ropeTheta")?.Value, "'ropeTheta'") ?? 10000;
        var normEps = cx.AsDouble(cx.Required(obj, "normEps", what), "'normEps'");
        var vocab = Size("vocabSize", ModelLimits.MaxVocabulary);
        var context = Size("contextLength", ModelLimits.MaxContextLength);
        var tied = cx.AsBool(obj.Find("tiedOutput")?.Value, "'tiedOutput'") ?? false;
        var ropeFactors = cx.AsBool(obj.Find("ropeFrequencyFactors")?.Value, "'ropeFrequencyFactors'") ?? false;
        var name = cx.AsString(obj.Find("name")?.Value, "'name'")?.Value ?? DefaultName(filePath);
        var weightType = ReadWeightType(cx, obj);

        var tensors = TensorNames.Gguf;
        var tensorsObj = cx.AsObject(obj.Find("tensors")?.Value, "'tensors'");
        if (tensorsObj is not null)
        {
            cx.CheckProperties(tensorsObj, "'tensors'", KnownTensors);
            string T(string key, string fallback, bool perLayer)
            {
                var s = cx.AsString(tensorsObj.Find(key)?.Value, $"'tensors.{key}'");
                if (s is null) return fallback;
                if (perLayer && !s.Value.Contains("{layer}"))
                    cx.Report(ProblemIds.WrongType, $"'tensors.{key}' names a per-layer tensor and must contain '{{layer}}', found '{s.Value}'", s.Range);
                return s.Value;
            }
            var d = TensorNames.Gguf;
            tensors = new TensorNames
            {
                TokenEmbedding = T("tokenEmbedding", d.TokenEmbedding, false),
                OutputNorm = T("outputNorm", d.OutputNorm, false),
                Output = T("output", d.Output, false),
                AttentionNorm = T("attentionNorm", d.AttentionNorm, true),
                Query = T("query", d.Query, true),
                Key = T("key", d.Key, true),
                Value = T("value", d.Value, true),
                AttentionOutput = T("attentionOutput", d.AttentionOutput, true),
                FeedForwardNorm = T("feedForwardNorm", d.FeedForwardNorm, true),
                Gate = T("gate", d.Gate, true),
                Up = T("up", d.Up, true),
                Down = T("down", d.Down, true),
                QueryBias = T("queryBias", d.QueryBias, true),
                KeyBias = T("keyBias", d.KeyBias, true),
                ValueBias = T("valueBias", d.ValueBias, true),
                RopeFrequencies = T("ropeFrequencies", d.RopeFrequencies, false),
            };
        }

        TextRange At(string prop) => obj.Find(prop)?.Value.Range ?? JsonReadContext.FirstLine(obj.Range);
        if (dim is { } dm && heads is { } h && kvHeads is { } kv && headDim is { } hd)
        {
            // 'headDim' is the file's key_length: heads × headDim may differ from dim (Qwen3, Gemma, Mistral Nemo), the
            // query projection mapping dim to heads × headDim and the output projection back. Without it, heads are
            // dim / heads wide, so they must divide dim.
            if (headDimNode is null && dm % h != 0)
                cx.Report(ProblemIds.HeadsDoNotDivideDim, $"'heads' ({h}) must divide 'dim' ({dm}), or 'headDim' must give the head width", At("heads"));
            else if ((long)hd * h > ModelLimits.MaxWidth)
                cx.Report(ProblemIds.HeadDimMismatch, $"'headDim' × 'heads' ({hd} × {h} = {(long)hd * h}) is the query's width, which must be at most {ModelLimits.MaxWidth} like every width", At("headDim"));
            if (h % kv != 0)
                cx.Report(ProblemIds.KvHeadsDoNotDivideHeads, $"'kvHeads' ({kv}) must divide 'heads' ({h})", At("kvHeads"));
            if (rotary is { } r && (r > hd || r % 2 != 0))
                cx.Report(ProblemIds.RotaryDimsTooLarge, $"'rotaryDims' ({r}) must be even and at most the head dimension ({hd})", At("rotaryDims"));
        }
        if (normEps is { } eps && !(eps > 0 && eps < 1))
            cx.Report(ProblemIds.NonPositiveSize, $"'normEps' must be between 0 and 1 (exclusive), found {eps.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}", At("normEps"));
        // Stored as float32 in a model file (rope.freq_base), so the largest float32 is the largest base.
        if (!(ropeTheta > 0 && ropeTheta <= float.MaxValue))
            cx.Report(ProblemIds.NonPositiveSize, $"'ropeTheta' must be positive and at most {float.MaxValue.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}, found {ropeTheta.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}", At("ropeTheta"));
        // Matrix rows run along dim (attention, gate, up) and hiddenDim (down): a block type stores them in whole blocks.
        if (weightType is not null && WeightTypes.BlockValues(weightType) is var block && block > 1)
            foreach (var (prop, value) in new[] { ("dim", dim), ("hiddenDim", hidden) })
                if (value is { } v && v % block != 0)
                    cx.Report(ProblemIds.WeightBlocksDoNotDivide,
                        $"'weightType' {weightType} stores matrix rows in blocks of {block} values, so '{prop}' ({v}) must be a multiple of {block}", At(prop));
        // The output projection's rows run along the query's width, which a head width of its own makes other than dim.
        if (weightType is not null && WeightTypes.BlockValues(weightType) is var rowBlock && rowBlock > 1
            && heads is { } hq && headDim is { } hdq && dim is { } dq && (long)hq * hdq != dq && (long)hq * hdq % rowBlock != 0)
            cx.Report(ProblemIds.WeightBlocksDoNotDivide,
                $"'weightType' {weightType} stores matrix rows in blocks of {rowBlock} values, so the query's width 'headDim' × 'heads' ({hdq} × {hq} = {(long)hq * hdq}) must be a multiple of {rowBlock}", At("headDim"));
        foreach (var (prop, value) in new[] { ("dim", dim), ("hiddenDim", hidden) })
            if (value is { } v && v % 16 != 0)
                cx.Report(ProblemIds.NotMultipleOf16, $"'{prop}' ({v}) is not a multiple of 16: Vector512 kernels need tail code for it", At(prop), ProblemSeverity.Info);

        if (cx.HasErrors || dim is null || hidden is null || layers is null || heads is null || kvHeads is null || headDim is null || rotary is null || vocab is null || context is null || normEps is null)
            return new ManifestReadResult(null, cx.Problems());
        return new ManifestReadResult(new ModelManifest
        {
            Name = name, Architecture = isBert ? "bert" : archNode!.Value, Encoder = encoder, Dim = dim.Value, HiddenDim = hidden.Value, Layers = layers.Value, Heads = heads.Value,
            KvHeads = kvHeads.Value, HeadDim = headDim.Value, RotaryDims = rotary.Value, RopeTheta = ropeTheta, NormEps = normEps.Value,
            VocabSize = vocab.Value, ContextLength = context.Value, TiedOutput = tied, RopeFrequencyFactors = ropeFactors, WeightType = weightType, Tensors = tensors,
        }, cx.Problems());
    }

    /// <summary>A bert manifest's encoder facts; the fixed parts of the architecture must say what the encoder computes.</summary>
    private static EncoderFacts ReadEncoderFacts(JsonReadContext cx, JsonObject obj)
    {
        foreach (var (property, only) in new[] { ("positions", EncoderFacts.Positions), ("norm", EncoderFacts.Norm), ("activation", EncoderFacts.Activation), ("attention", EncoderFacts.Attention) })
            if (cx.AsString(obj.Find(property)?.Value, $"'{property}'") is { } value && value.Value != only)
                cx.Report(ProblemIds.UnsupportedArchitecture, $"A bert encoder's '{property}' is '{only}', found '{JsonReadContext.Echo(value.Value)}'", value.Range);
        var pooling = cx.AsString(obj.Find("pooling")?.Value, "'pooling'");
        if (pooling is not null && pooling.Value != EncoderFacts.MeanPooling && pooling.Value != EncoderFacts.ClsPooling)
            cx.Report(ProblemIds.WrongType, $"'pooling' is 'mean' or 'cls', found '{JsonReadContext.Echo(pooling.Value)}'", pooling.Range);
        return new EncoderFacts
        {
            TokenTypes = cx.AsInt(obj.Find("tokenTypes")?.Value, "'tokenTypes'", 1, 1 << 16) ?? 2,
            Pooling = pooling?.Value == EncoderFacts.ClsPooling ? EncoderFacts.ClsPooling : EncoderFacts.MeanPooling,
            Normalize = cx.AsBool(obj.Find("normalize")?.Value, "'normalize'") ?? true,
        };
    }

    /// <summary>The optional 'weightType' of a manifest or plan: one of <see cref="WeightTypes.Names"/> (SI0033 otherwise).</summary>
    internal static string? ReadWeightType(JsonReadContext cx, JsonObject obj)
    {
        var node = cx.AsString(obj.Find("weightType")?.Value, "'weightType'");
        if (node is null) return null;
        if (WeightTypes.IsKnown(node.Value)) return node.Value;
        cx.Report(ProblemIds.UnknownEnumValue, $"'weightType' must be one of {string.Join(", ", WeightTypes.Names)}; found '{JsonReadContext.Echo(node.Value)}'", node.Range);
        return null;
    }

    public static string DefaultName(string filePath)
    {
        var file = System.IO.Path.GetFileName(filePath);
        return file.EndsWith(Extension, System.StringComparison.OrdinalIgnoreCase) ? file.Substring(0, file.Length - Extension.Length) : System.IO.Path.GetFileNameWithoutExtension(file);
    }
}
