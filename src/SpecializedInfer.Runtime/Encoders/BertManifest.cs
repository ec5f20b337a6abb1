using SpecializedInfer.Planning;

namespace SpecializedInfer.Encoders;

/// <summary>The <c>architecture: bert</c> manifest of a BERT GGUF, and the schedule of a plan for it.</summary>
public static class BertManifest
{
    public static ModelManifest FromConfig(BertConfig c, string name, bool normalize = true) => new()
    {
        Name = name,
        Architecture = "bert",
        Dim = c.Dim,
        HiddenDim = c.HiddenDim,
        Layers = c.Layers,
        Heads = c.Heads,
        KvHeads = c.Heads,
        HeadDim = c.HeadDim,
        RotaryDims = 0,
        NormEps = (double)(decimal)c.NormEps, // the float's shortest decimal form, as ManifestCheck writes llama's
        VocabSize = c.VocabSize,
        ContextLength = c.ContextLength,
        Encoder = new EncoderFacts
        {
            TokenTypes = c.TokenTypes,
            Pooling = c.Pooling == BertPooling.Cls ? EncoderFacts.ClsPooling : EncoderFacts.MeanPooling,
            Normalize = normalize,
        },
    };

    /// <summary>
    /// The load-time check of a generated encoder: the file's topology must be the manifest's it was generated for;
    /// the first property that differs throws <see cref="ManifestMismatchException"/> naming it.
    /// </summary>
    public static void Verify(BertConfig config, ModelManifest manifest, string modelPath, string manifestPath)
    {
        var facts = manifest.Encoder ?? throw new ArgumentException("The manifest is not an encoder's (architecture: bert).");
        var pooling = config.Pooling == BertPooling.Cls ? EncoderFacts.ClsPooling : EncoderFacts.MeanPooling;
        foreach (var (property, expected, found) in new[]
                 {
                     ("dim", manifest.Dim.ToString(System.Globalization.CultureInfo.InvariantCulture), config.Dim.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("hiddenDim", manifest.HiddenDim.ToString(System.Globalization.CultureInfo.InvariantCulture), config.HiddenDim.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                     ("layers", manifest.Layers.ToString(System.Globalization.CultureInfo.InvariantCulture), config.Layers.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("heads", manifest.Heads.ToString(System.Globalization.CultureInfo.InvariantCulture), config.Heads.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                     ("vocabSize", manifest.VocabSize.ToString(System.Globalization.CultureInfo.InvariantCulture), config.VocabSize.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                     ("contextLength", manifest.ContextLength.ToString(System.Globalization.CultureInfo.InvariantCulture), config.ContextLength.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                     ("tokenTypes", facts.TokenTypes.ToString(System.Globalization.CultureInfo.InvariantCulture), config.TokenTypes.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("pooling", pooling == facts.Pooling ? pooling : facts.Pooling, pooling),
                     ("normEps", ((float)manifest.NormEps).ToString("R", System.Globalization.CultureInfo.InvariantCulture), config.NormEps.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
                 })
            if (expected != found) throw new ManifestMismatchException(modelPath, 0, manifestPath, property, expected, found);
    }

    /// <summary>
    /// Loads a plan for an encoder (its manifest must be a bert manifest matching <paramref name="config"/>'s sizes)
    /// and returns the schedule the encoder runs; a plan with parts that do not apply to encoders is refused.
    /// </summary>
    public static ExecutionSchedule LoadPlan(string planPath, BertConfig config) => LoadPlanFile(planPath, config).Schedule;

    /// <summary>
    /// <see cref="LoadPlan"/>'s checks, returning the plan as read (its files included: what a generated encoder is
    /// compiled from).
    /// </summary>
    public static LoadedPlan LoadPlanFile(string planPath, BertConfig config)
    {
        var loaded = PlanLoader.Load(planPath, allowEncoders: true);
        var m = loaded.Manifest;
        if (m.Architecture != "bert")
            throw new PlanException([Problem(loaded, $"The plan's manifest describes a '{m.Architecture}' model; an encoder needs a bert manifest")]);
        if ((m.Dim, m.HiddenDim, m.Layers, m.Heads, m.VocabSize) != (config.Dim, config.HiddenDim, config.Layers, config.Heads, config.VocabSize))
            throw new PlanException([Problem(loaded, $"The manifest describes dim {m.Dim}, hiddenDim {m.HiddenDim}, {m.Layers} layers, {m.Heads} heads, vocabulary {m.VocabSize}; the model has {config.Dim}, {config.HiddenDim}, {config.Layers}, {config.Heads}, {config.VocabSize}")]);
        if (EncoderPlanRules.Unsupported(loaded.Schedule) is { } problem)
            throw new PlanException([new PlanProblem(ProblemIds.UnsupportedArchitecture, ProblemSeverity.Error, problem, loaded.PlanPath, TextRange.Empty)]);
        return loaded;
    }

    private static PlanProblem Problem(LoadedPlan loaded, string message) =>
        new(ProblemIds.UnsupportedArchitecture, ProblemSeverity.Error, message, loaded.ManifestPath, TextRange.Empty);
}
