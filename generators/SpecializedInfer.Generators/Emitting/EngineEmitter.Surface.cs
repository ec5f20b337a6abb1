using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.PlanLiterals;
using static SpecializedInfer.Generators.Emitting.TypeRefs;

// The engine class's own members: what it was generated from (Manifest, CompiledSchedule, PlanFile), how it is
// made (constructor, Load) and the ILanguageModel members; the nested Session comes last.

public sealed partial class EngineEmitter
{
    private void WriteEngineClass()
    {
        var cls = _spec.ClassIdentifier;
        _s.Line("/// <summary>");
        _s.Line($"/// The engine for {Literals.Xml(_m.Name)} generated from <c>{Literals.Xml(_spec.PlanFile)}</c>: {Literals.Xml(_schedule.Describe())}.");
        _s.Line("/// </summary>");
        _s.Line(GeneratedCodeAttribute);
        using (_s.Block($"partial class {cls} : {Engine}.ISpecializedEngine<{cls}>"))
        {
            WriteManifest();
            _s.Line();
            WriteCompiledSchedule();
            _s.Line();
            _s.Line("/// <summary>The plan file, as named in the [SpecializedEngine] attribute.</summary>");
            _s.Line($"public static string PlanFile => {Literals.String(_spec.PlanFile)};");
            _s.Line();
            _s.Line($"private readonly {Models}.LlamaWeights _weights;");
            _layout.WriteEngineMembers(_s, cls);
            _s.Line();
            WriteLoad();
            _s.Line();
            WriteLanguageModelMembers();
            _s.Line();
            WriteSession();
        }
    }

    /// <summary>Manifest: the manifest as an object initializer (tensor names only when they are not GGUF's).</summary>
    private void WriteManifest()
    {
        _s.Line($"/// <summary>The manifest this engine was generated for ({Literals.Xml(_spec.ManifestReference)}).</summary>");
        using (_s.Block($"public static {Planning}.ModelManifest Manifest {{ get; }} = new {Planning}.ModelManifest", closing: "};"))
        {
            _s.Lines($"""
                      Name = {Literals.String(_m.Name)},
                      Architecture = {Literals.String(_m.Architecture)},
                      Dim = {_m.Dim},
                      HiddenDim = {_m.HiddenDim},
                      Layers = {_m.Layers},
                      Heads = {_m.Heads},
                      KvHeads = {_m.KvHeads},
                      HeadDim = {_m.HeadDim},
                      RotaryDims = {_m.RotaryDims},
                      RopeTheta = {Literals.Double(_m.RopeTheta)},
                      NormEps = {Literals.Double(_m.NormEps)},
                      VocabSize = {_m.VocabSize},
                      ContextLength = {_m.ContextLength},
                      TiedOutput = {Literals.Bool(_m.TiedOutput)},
                      """);
            // The weight file's type is checked at load (ManifestCheck.Verify) like the topology.
            if (_m.WeightType is not null) _s.Line($"WeightType = {Literals.String(_m.WeightType)},");
            if (_m.RopeFrequencyFactors) _s.Line("RopeFrequencyFactors = true,");
            if (_m.Tensors == TensorNames.Gguf) return;
            var t = _m.Tensors;
            using (_s.Block($"Tensors = new {Planning}.TensorNames", closing: "},"))
                foreach (var (name, value) in new[]
                         {
                             ("TokenEmbedding", t.TokenEmbedding), ("OutputNorm", t.OutputNorm), ("Output", t.Output), ("AttentionNorm", t.AttentionNorm),
                             ("Query", t.Query), ("Key", t.Key), ("Value", t.Value), ("AttentionOutput", t.AttentionOutput),
                             ("FeedForwardNorm", t.FeedForwardNorm), ("Gate", t.Gate), ("Up", t.Up), ("Down", t.Down),
                             ("QueryBias", t.QueryBias), ("KeyBias", t.KeyBias), ("ValueBias", t.ValueBias), ("RopeFrequencies", t.RopeFrequencies),
                         })
                    _s.Line($"{name} = {Literals.String(value)},");
        }
    }

    /// <summary>CompiledSchedule: the resolved schedule as a constructor call, probes' weights shared with the session's constants.</summary>
    private void WriteCompiledSchedule() => WriteCompiledSchedule(_s, _schedule, _probes);

    /// <summary>CompiledSchedule of any generated engine (decoders and encoders): the schedule as a constructor call.</summary>
    internal static void WriteCompiledSchedule(SourceWriter s, ExecutionSchedule schedule, IReadOnlyList<LinearProbe> probes)
    {
        s.Line("/// <summary>The schedule compiled into this engine (equal to <c>ExecutionSchedule.Resolve(plan, manifest)</c>).</summary>");
        s.Line($"public static {Planning}.ExecutionSchedule CompiledSchedule {{ get; }} = new {Planning}.ExecutionSchedule(");
        var initialized = schedule.Speculation is not null || probes.Count > 0 || schedule.Merges.Count > 0;
        using (s.Indent())
        {
            using (s.Block($"Steps: new {Planning}.ScheduleStep[]", closing: "},"))
                foreach (var st in schedule.Steps)
                {
                    var exit = st.ExitAfter is { } e ? ExitPointLiteral(e) : "null";
                    var skip = st.Skip is { } k ? $", {SkipRuleLiteral(k)}" : "";
                    s.Line($"new({st.Index}, {st.Layer}, {st.WeightsOf}, {exit}{skip}){SubLayersLiteral(st)},");
                }
            s.Line($"DecodeDepth: {schedule.DecodeDepth},");
            s.Line($"KvFill: {Planning}.KvFill.{schedule.KvFill},");
            s.Line($"PrunedLayers: {IntArrayLiteral(schedule.PrunedLayers)},");
            s.Line($"ModelLayers: {schedule.ModelLayers}){(initialized ? "" : ";")}");
        }
        if (!initialized) return;
        using (s.Block(closing: "};"))
        {
            if (schedule.Speculation is { } sp) s.Line($"Speculation = new {Planning}.Speculation({sp.DraftSteps}, {sp.DraftTokens}),");
            if (schedule.Merges.Count > 0) s.Line($"Merges = {LayerMergesLiteral(schedule.Merges)},");
            if (probes.Count > 0)
                using (s.Block($"Probes = new {Planning}.LinearProbe[]", closing: "},"))
                    for (var i = 0; i < probes.Count; i++)
                        s.Line($"new({Literals.String(probes[i].File)}, Session.Probe{i}Bias, Session.Probe{i}),");
        }
    }

    /// <summary>A step's initializer when the plan drops a half of it (skipAttention, skipFeedForward); empty otherwise.</summary>
    private static string SubLayersLiteral(ScheduleStep st)
    {
        var set = (st.RunsAttention ? new string[0] : new[] { "RunsAttention = false" })
            .Concat(st.RunsFeedForward ? new string[0] : new[] { "RunsFeedForward = false" }).ToList();
        return set.Count == 0 ? "" : $" {{ {string.Join(", ", set)} }}";
    }

    /// <summary>Load: maps the model, checked against the manifest, binding only the layers the schedule reads.</summary>
    private void WriteLoad()
    {
        _s.Line("/// <summary>");
        _s.Line("/// Maps a GGUF model after checking it against the manifest (ManifestCheck.Verify: a mismatch throws");
        _s.Line($"/// <see cref=\"{ManifestMismatchException}\"/> naming the property), then binds only the layers the");
        _s.Line(_schedule.Merges.Count == 0
            ? $"/// schedule reads ({string.Join(", ", _layout.Layers)})."
            : $"/// schedule reads ({string.Join(", ", _layout.Layers)}) and the layers merged into them ({string.Join(", ", _schedule.LoadedLayers.Except(_layout.Layers))}).");
        _s.Line("/// </summary>");
        _s.Line($"public static {_spec.ClassIdentifier} Load(string modelPath) =>");
        using (_s.Indent())
            _s.Line($"new({Models}.LlamaWeights.Load(modelPath, Manifest, {Literals.String(_spec.ManifestReference)}, layersToBind: {IntArrayLiteral(_schedule.LoadedLayers)}));");
    }

    /// <summary>Schedule, Config, Name, CreateSession and Dispose.</summary>
    private void WriteLanguageModelMembers()
    {
        _s.Line("/// <inheritdoc/>");
        _s.Line($"public {Planning}.ExecutionSchedule Schedule => CompiledSchedule;");
        _s.Line();
        _s.Line("/// <inheritdoc/>");
        _s.Line($"public {Models}.LlamaConfig Config => _weights.Config;");
        _s.Line();
        _s.Line("/// <inheritdoc/>");
        _s.Line($"public string Name => {Literals.String(_spec.ClassName)};");
        _s.Line();
        _s.Line("/// <summary>A new session with its own KV cache for up to <paramref name=\"contextLength\"/> positions (0: the manifest's context length), on the physical cores.</summary>");
        _s.Line($"public Session CreateSession(int contextLength = 0) => new Session(this, new {Engine}.SessionOptions {{ ContextLength = contextLength }});");
        _s.Line();
        _s.Line("/// <summary>A new session as <paramref name=\"options\"/> say: its context and the threads it computes on.</summary>");
        _s.Line($"public Session CreateSession({Engine}.SessionOptions options) => new Session(this, options);");
        _s.Line();
        _s.Line($"{Engine}.IInferenceSession {Engine}.ILanguageModel.CreateSession(int contextLength) => CreateSession(contextLength);");
        _s.Line();
        _s.Line($"{Engine}.IInferenceSession {Engine}.ILanguageModel.CreateSession({Engine}.SessionOptions options) => CreateSession(options);");
        _s.Line();
        _s.Line("/// <summary>Unmaps the model file.</summary>");
        _s.Line("public void Dispose() => _weights.Dispose();");
    }
}
