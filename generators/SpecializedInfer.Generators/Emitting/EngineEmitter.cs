using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

/// <summary>
/// Stage 3: writes one engine's <c>X.g.cs</c>: the partial class with the <c>ISpecializedEngine</c> surface and a
/// nested <c>Session</c> with one method per schedule step, the exit checks inlined where the plan puts them and the
/// KV propagation of docs/plans.md rule 4. Its kernels go to <c>X.Kernels.g.cs</c> (<see cref="KernelEmitter"/>).
/// Output depends on the spec alone, so it is deterministic.
/// </summary>
/// <remarks>
/// One part per generated member or concern:
/// <list type="bullet">
/// <item><c>EngineEmitter.Surface.cs</c>: Manifest, CompiledSchedule, PlanFile, the constructor, Load and the ILanguageModel members.</item>
/// <item><c>EngineEmitter.Session.cs</c>: the session's fields, constructor and small members.</item>
/// <item><c>EngineEmitter.Steps.cs</c>: one method per schedule step (the single-position forward pass).</item>
/// <item><c>EngineEmitter.KvFill.cs</c>: K/V for steps a token did not run (propagation, skipped steps; recompute is <see cref="RecomputeEmitter"/>).</item>
/// <item><c>EngineEmitter.Heads.cs</c>: the head and the exit heads.</item>
/// <item><c>EngineEmitter.Weights.cs</c>: LayerWeights and the weight layout's accessors.</item>
/// </list>
/// All read one <see cref="WeightLayout"/> (decided once per spec, <see cref="EngineLayout"/>), whose own emit functions
/// write how the weights are held, bound and read. What a generated token does at each step (skips, exits, the
/// states they compare, how a leaving token fills the cache) is Planning's <see cref="DecodeDecisions"/>, computed
/// once here and printed by <see cref="DecisionEmitter"/> (Forward(int)) and <see cref="SpeculativeSessionEmitter"/>
/// (a lossless plan's Draft). The batched prompt pass, recompute's members and lossless sessions' speculative members
/// are <see cref="BatchedPassEmitter"/>, <see cref="RecomputeEmitter"/> and <see cref="SpeculativeSessionEmitter"/>,
/// created once here.
/// </remarks>
public sealed partial class EngineEmitter
{
    public const string GeneratorName = "SpecializedInfer.Generators";
    public static readonly string GeneratorVersion = typeof(EngineEmitter).Assembly.GetName().Version?.ToString() ?? "1.0.0.0";

    /// <summary>The attribute every generated type carries.</summary>
    public static string GeneratedCodeAttribute => $"[{GeneratedCode}({Literals.String(GeneratorName)}, {Literals.String(GeneratorVersion)})]";

    private readonly EngineSpec _spec;
    private readonly ModelManifest _m;
    private readonly ExecutionSchedule _schedule;
    private readonly ScheduleStep[] _steps;
    private readonly int _depth;
    private readonly WeightLayout _layout;
    private readonly SourceWriter _s = new();
    private readonly BatchedPassEmitter _batched;

    /// <summary>The work the session splits over its threads, registered by the emitters that write its call sites.</summary>
    private readonly ParallelOps _ops = new();

    /// <summary>What a generated token does at each step: the plan's decision model, computed once per engine.</summary>
    private readonly DecodeDecisions _decisions;

    /// <summary>A generated token's Forward(int), for every plan but lossless ones.</summary>
    private readonly DecisionEmitter? _forward;

    /// <summary>The ISpeculativeSession members, for lossless plans only.</summary>
    private readonly SpeculativeSessionEmitter? _speculative;

    /// <summary>kvFill recompute's fields and members (<see cref="RecomputeEmitter.Enabled"/> for recompute plans only).</summary>
    private readonly RecomputeEmitter _recompute;

    /// <summary>The layout's exit heads; head h is the h-th.</summary>
    private readonly List<ExitHead> _heads;

    /// <summary>The learned probes, in the schedule's order; probe i becomes the arrays Probe{i}/Probe{i}Bias.</summary>
    private readonly List<LinearProbe> _probes;

    private EngineEmitter(EngineLayout engine)
    {
        _spec = engine.Spec;
        _layout = engine.Weights;
        _m = _spec.Manifest;
        _schedule = _spec.Schedule;
        _steps = _schedule.Steps.ToArray();
        _depth = _schedule.DecodeDepth;
        _heads = _layout.Heads.ToList();
        _probes = _schedule.Probes.ToList();
        _decisions = DecodeDecisions.For(_schedule);
        _recompute = new RecomputeEmitter(_s, _schedule);
        var speculative = SpeculativeSessionEmitter.AppliesTo(_schedule);
        _batched = new BatchedPassEmitter(_s, _spec, _layout, _ops, verifies: speculative);
        if (speculative) _speculative = new SpeculativeSessionEmitter(_s, _spec, _layout, _ops, _batched, _decisions.Draft!);
        else _forward = new DecisionEmitter(_s, _schedule, _decisions, _heads);
    }

    public static EngineSource Emit(EngineLayout engine) => new(engine.Spec.HintName, new EngineEmitter(engine).Write());

    private int Pairs => _m.RotaryDims / 2;

    private string Write()
    {
        WriteHeader();
        using (_s.Blocks(TypeNesting(_spec.Namespace, _spec.ContainingTypes)))
            WriteEngineClass();
        return _s.ToString();
    }

    /// <summary>The namespace (if any) and the types the engine class is nested in, as block headers.</summary>
    internal static IEnumerable<string> TypeNesting(string? ns, EquatableArray<ContainingTypeInfo> containingTypes) =>
        (ns is null ? Enumerable.Empty<string>() : new[] { $"namespace {ns}" })
        .Concat(containingTypes.Select(c => c.Declaration));

    private void WriteHeader()
    {
        _s.Line("// <auto-generated/>");
        _s.Line($"// {GeneratorName} {GeneratorVersion}: the specialized engine {_spec.ClassName}, generated from the layer plan");
        _s.Line($"// {Literals.Comment(_spec.PlanFile)} and its manifest {Literals.Comment(_spec.ManifestReference)}. Edit those files, not this one.");
        _s.Line("//");
        _s.Line($"// Model {Literals.Comment(_m.Name)}: {Topology()}.");
        _s.Line($"// Schedule: {Literals.Comment(_schedule.Describe())}.");
        if (_spec.PlanDescription is { Length: > 0 } d) _s.Line($"// Plan: {Literals.Comment(d)}");
        foreach (var l in _schedule.PrunedLayers) _s.Line($"// Layer {l} is pruned (plan: prune): its weights are never bound or read.");
        foreach (var merge in _schedule.Merges)
            _s.Line($"// {Literals.Numbered("Layer", merge.Absorbed, "is", "are")} merged into layer {merge.First} (plan: merge): read at load only, to compute the merged weights.");
        foreach (var l in Enumerable.Range(0, _m.Layers).Where(l => !_schedule.PrunedLayers.Contains(l) && !IsMergedAway(l) && _steps.All(s => s.Layer != l)))
            _s.Line($"// Layer {l} is left out of the order (plan: order): it never runs.");
        _s.Line("#nullable enable");
        _s.Line();
    }

    /// <summary>True for a layer a merge collapses into its first (it leaves the model, as if pruned).</summary>
    private bool IsMergedAway(int layer) => _schedule.Merges.Any(m => m.Absorbed.Contains(layer));

    private string Topology() =>
        (_m.Architecture == DecoderArchitecture.Llama ? "" : $"{_m.Architecture} (" +
            string.Join(", ", new[] { _m.AttentionBias ? "q/k/v projection biases" : null, _m.RopeStyle == RopeStyle.HalfSplit ? "half-split rotary pairs" : null }.Where(x => x is not null)) + "): ") +
        $"dim {_m.Dim}, ffn {_m.HiddenDim}, {_m.Layers} layers, {_m.Heads} heads of {_m.HeadDim} with {_m.KvHeads} KV heads, " +
        $"rotary {_m.RotaryDims} (θ {Literals.Float((float)_m.RopeTheta).TrimEnd('f')}), ε {Literals.Float((float)_m.NormEps).TrimEnd('f')}, " +
        $"vocab {_m.VocabSize}, context {_m.ContextLength}, {(_m.TiedOutput ? "output head tied to the token embedding" : "separate output matrix")}";

    private string Shapes() =>
        $"attention {_m.Dim}→q {_m.QueryDim}, k/v {_m.KvDim}; ffn {_m.Dim}→{_m.HiddenDim}→{_m.Dim}";
}
