using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

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
            throw new ArgumentException($"The schedule is for a {Schedule.ModelLayers}-layer model; the weights have {weights.Config.Layers} layers.");
        // Fail now, not mid-token, if a layer is unbound. Merged layers are computed here, once per engine, so engines
        // with different merges can share one LlamaWeights.
        _layers = new LlamaLayerWeights?[weights.Config.Layers];
        foreach (var layer in Schedule.WeightLayers)
            _layers[layer] = Schedule.MergeInto(layer) is { } merge ? LayerMerging.Merge(weights, merge, _mergedTensors) : weights.Layer(layer);

        // Exit heads are bound once here (a head named by several exit points once), so sessions never touch the file
        // and a missing or misshapen head tensor fails at load.
        var byStep = new ExitHeadWeights?[Schedule.Steps.Count];
        foreach (var step in Schedule.Steps)
            if (step.ExitAfter?.Head is { } head)
            {
                if (!_exitHeads.TryGetValue(head, out var bound)) _exitHeads[head] = bound = weights.BindExitHead(head);
                byStep[step.Index] = bound;
            }
        ExitHeadsByStep = byStep;

        // Learned tests read their probes through the schedule (PlanLoader reads the sidecars); a schedule built
        // without them, or a probe of another width, fails here rather than at the first token that reaches the test.
        foreach (var file in Schedule.Exits.SelectMany(e => e.Test.ProbeFiles)
                     .Concat(Schedule.Steps.Where(s => s.Skip?.Test == SkipTest.Learned).Select(s => s.Skip!.Probe!)))
            if (Schedule.Probe(file).Dim != weights.Config.Dim)
                throw new ArgumentException($"The probe '{file}' reads hidden states of width {Schedule.Probe(file).Dim}; the model's dim is {weights.Config.Dim}.");
        Decisions = DecodeDecisions.For(Schedule);
        _ownsWeights = ownsWeights;
    }

    /// <summary>What generated tokens do at run time (skips, exits, kept states, KV leaves), decided once for every session.</summary>
    public DecodeDecisions Decisions { get; }

    private readonly Dictionary<ExitHead, ExitHeadWeights> _exitHeads = new();

    // By layer: the weights steps with that WeightsOf run with (the file's, or a merge's); the arrays behind merged ones.
    private readonly LlamaLayerWeights?[] _layers;
    private readonly List<float[]> _mergedTensors = [];

    /// <summary>The weights steps running with <paramref name="layer"/>'s weights read: the file's, or merged (LaCo).</summary>
    public LlamaLayerWeights LayerWeights(int layer) =>
        _layers[layer] ?? throw new InvalidOperationException($"No step runs with layer {layer}'s weights.");

    /// <summary>Index s: the bound head of the exit point after step s, or null when it uses the model's own head (or there is none).</summary>
    internal IReadOnlyList<ExitHeadWeights?> ExitHeadsByStep { get; }

    /// <summary>The weights of an exit head the schedule names; null: the model's <c>output_norm</c> and output matrix.</summary>
    public ExitHeadWeights HeadWeights(ExitHead? head)
    {
        if (head is null) return new ExitHeadWeights(Weights.OutputNorm, Weights.Output);
        return _exitHeads.TryGetValue(head, out var bound) ? bound
            : throw new ArgumentException($"The schedule has no exit head '{head.Norm}'/'{head.Output}'.");
    }

    /// <summary>Loads a GGUF model (binding only the layers the schedule reads); the engine owns the mapping.</summary>
    public static ReferenceEngine Load(string path, ExecutionSchedule? schedule = null) =>
        new(LlamaWeights.Load(path, schedule?.LoadedLayers), schedule, ownsWeights: true);

    /// <summary>Loads a model and runs it by a plan file, after checking the model matches the plan's manifest.</summary>
    public static ReferenceEngine Load(string modelPath, string planPath) => Load(modelPath, PlanLoader.Load(planPath));

    /// <summary>Loads a model and runs it by a plan already read, after checking the model matches the plan's manifest.</summary>
    public static ReferenceEngine Load(string modelPath, LoadedPlan plan) =>
        new(LlamaWeights.Load(modelPath, plan.Manifest, plan.ManifestPath, plan.Schedule.LoadedLayers), plan.Schedule, ownsWeights: true);

    public LlamaWeights Weights { get; }
    public ExecutionSchedule Schedule { get; }
    public LlamaConfig Config => Weights.Config;
    public string Name => "reference";

    public IInferenceSession CreateSession(int contextLength = 0) => CreateSession(new SessionOptions { ContextLength = contextLength });

    public IInferenceSession CreateSession(SessionOptions options) =>
        Schedule.Speculation is null ? new ReferenceSession(this, options) : new ReferenceSession.Speculative(this, options);

    public void Dispose()
    {
        if (_ownsWeights) Weights.Dispose();
    }
}
