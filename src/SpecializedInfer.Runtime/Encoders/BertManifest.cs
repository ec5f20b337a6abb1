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
    /// Loads a plan for an encoder (its manifest must be a bert manifest matching <paramref name="config"/>'s sizes)
    /// and returns the schedule the encoder runs; a plan with parts that do not apply to encoders is refused.
    /// </summary>
    public static ExecutionSchedule LoadPlan(string planPath, BertConfig config)
    {
        var loaded = PlanLoader.Load(planPath, allowEncoders: true);
        var m = loaded.Manifest;
        if (m.Architecture != "bert")
            throw new PlanException([Problem(loaded, $"The plan's manifest describes a '{m.Architecture}' model; an encoder needs a bert manifest")]);
        if ((m.Dim, m.HiddenDim, m.Layers, m.Heads, m.VocabSize) != (config.Dim, config.HiddenDim, config.Layers, config.Heads, config.VocabSize))
            throw new PlanException([Problem(loaded, $"The manifest describes dim {m.Dim}, hiddenDim {m.HiddenDim}, {m.Layers} layers, {m.Heads} heads, vocabulary {m.VocabSize}; the model has {config.Dim}, {config.HiddenDim}, {config.Layers}, {config.Heads}, {config.VocabSize}")]);
        if (EncoderPlanRules.Unsupported(loaded.Schedule) is { } problem)
            throw new PlanException([new PlanProblem(ProblemIds.UnsupportedArchitecture, ProblemSeverity.Error, problem, loaded.PlanPath, TextRange.Empty)]);
        return loaded.Schedule;
    }

    private static PlanProblem Problem(LoadedPlan loaded, string message) =>
        new(ProblemIds.UnsupportedArchitecture, ProblemSeverity.Error, message, loaded.ManifestPath, TextRange.Empty);
}
