using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Engine;

/// <summary>
/// The generic LLaMA-family forward pass: every dimension comes from the file at run time, and any layer plan
/// runs through its <see cref="ExecutionSchedule"/>. It is the readable oracle for generated engines, so
/// clarity wins over speed where the two disagree.
/// </summary>
public sealed class ReferenceEngine : ILanguageModel
{
    private readonly bool _ownsWeights;

    public ReferenceEngine(LlamaWeights weights, ExecutionSchedule? schedule = null, bool ownsWeights = false)
    {
        Weights = weights;
        Schedule = schedule ?? ExecutionSchedule.Full(weights.Config.Layers);
        if (Schedule.ModelLayers != weights.Config.Layers)
            throw new ArgumentException($"The schedule is for a {Schedule.ModelLayers}-layer model; the weights have {weights.Config.Layers} layers.", nameof(schedule));
        foreach (var layer in Schedule.WeightLayers) weights.Layer(layer); // fail now, not mid-token, if a layer is unbound
        _ownsWeights = ownsWeights;
    }

    /// <summary>Loads a GGUF model (binding only the layers the schedule reads); the engine owns the mapping.</summary>
    public static ReferenceEngine Load(string path, ExecutionSchedule? schedule = null) =>
        new(LlamaWeights.Load(path, schedule?.WeightLayers), schedule, ownsWeights: true);

    /// <summary>Loads a model and runs it by a plan file, after checking the model matches the plan's manifest.</summary>
    public static ReferenceEngine Load(string modelPath, string planPath)
    {
        var plan = PlanLoader.Load(planPath);
        return new ReferenceEngine(LlamaWeights.Load(modelPath, plan.Manifest, plan.ManifestPath, plan.Schedule.WeightLayers), plan.Schedule, ownsWeights: true);
    }

    public LlamaWeights Weights { get; }
    public ExecutionSchedule Schedule { get; }
    public LlamaConfig Config => Weights.Config;
    public string Name => "reference";

    public IInferenceSession CreateSession(int contextLength = 0) =>
        Schedule.Speculation is null ? new ReferenceSession(this, contextLength) : new ReferenceSession.Speculative(this, contextLength);

    public void Dispose()
    {
        if (_ownsWeights) Weights.Dispose();
    }
}
