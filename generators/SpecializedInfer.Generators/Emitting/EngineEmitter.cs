using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// Stage 3: writes one engine. The partial class gets the <c>ISpecializedEngine</c> surface (Load, Manifest,
/// CompiledSchedule, PlanFile) and a nested <c>Session</c> with one method per schedule step, the exit checks
/// inlined where the plan puts them and the KV propagation of docs/plans.md rule 4; the kernels (one per distinct
/// shape) go into a file-local class. Output depends on the spec alone, so it is deterministic.
/// </summary>
public sealed class EngineEmitter
{
    public const string GeneratorName = "SpecializedInfer.Generators";
    public static readonly string GeneratorVersion = typeof(EngineEmitter).Assembly.GetName().Version?.ToString() ?? "1.0.0.0";

    private const string Planning = "global::SpecializedInfer.Planning";
    private const string Engine = "global::SpecializedInfer.Engine";
    private const string Models = "global::SpecializedInfer.Models";
    private const string Span = "global::System.ReadOnlySpan<float>";
    private const string Kernels = "SiKernels";

    private readonly EngineSpec _spec;
    private readonly ModelManifest _m;
    private readonly ExecutionSchedule _schedule;
    private readonly ScheduleStep[] _steps;
    private readonly int _depth;
    private readonly SourceWriter _s = new();

    private static readonly string[] TensorKinds = { "AttentionNorm", "Query", "Key", "Value", "Output", "FeedForwardNorm", "Gate", "Up", "Down" };

    private EngineEmitter(EngineSpec spec)
    {
        _spec = spec;
        _m = spec.Manifest;
        _schedule = spec.Schedule;
        _steps = spec.Schedule.Steps.ToArray();
        _depth = spec.Schedule.DecodeDepth;
        _useArena = true; // lay out the padded copy first, then see whether it fits the limit
        long offset = 0;
        foreach (var l in spec.Schedule.WeightLayers)
            foreach (var kind in TensorKinds)
            {
                _arenaLayout.Add(($"{kind}{l}", offset, TensorLength(kind)));
                offset += Pad(TensorLength(kind));
            }
        _arenaLayout.Add(("OutputNorm", offset, _m.Dim));
        offset += Pad(_m.Dim);
        _arenaLayout.Add(("Output", offset, (long)_m.VocabSize * Stride(_m.Dim)));
        offset += Pad((long)_m.VocabSize * Stride(_m.Dim));
        _heads = _steps.Select(s => s.ExitAfter?.Head).Where(h => h is not null).Select(h => h!).Distinct().ToList();
        for (var h = 0; h < _heads.Count; h++)
        {
            _arenaLayout.Add(($"ExitNorm{h}", offset, _m.Dim));
            offset += Pad(_m.Dim);
            _arenaLayout.Add(($"ExitOutput{h}", offset, (long)_m.VocabSize * Stride(_m.Dim)));
            offset += Pad((long)_m.VocabSize * Stride(_m.Dim));
        }
        _probes = spec.Schedule.Probes.ToList();
        _arenaLength = offset;
        // Models whose bound weights fit the limit (cache-sized) get them copied at load into one 64-byte-aligned
        // array: GGUF aligns tensors to 32 bytes only, and Vector512 loads that straddle two cache lines cost about a
        // third of the bandwidth when the weights come from cache. Larger models stream from the file mapping.
        _useArena = offset * 4 <= spec.WeightCopyLimit;
    }

    private readonly List<(string Name, long Offset, long Length)> _arenaLayout = new();

    /// <summary>The distinct exit heads the plan names, in schedule order: head h is bound once however many exit points use it.</summary>
    private readonly List<ExitHead> _heads;

    /// <summary>The learned probes, in the schedule's order; probe i becomes the arrays Probe{i}/Probe{i}Bias.</summary>
    private readonly List<LinearProbe> _probes;
    private readonly long _arenaLength;
    private bool _useArena;

    private static long Pad(long floats) => (floats + 15) / 16 * 16;

    /// <summary>Rows and columns of a layer tensor (norms are one row).</summary>
    private (int Rows, int Cols) Shape(string kind) => kind switch
    {
        "AttentionNorm" or "FeedForwardNorm" => (1, _m.Dim),
        "Query" => (_m.QueryDim, _m.Dim),
        "Key" or "Value" => (_m.KvDim, _m.Dim),
        "Output" => (_m.Dim, _m.QueryDim),
        "Gate" or "Up" => (_m.HiddenDim, _m.Dim),
        "Down" => (_m.Dim, _m.HiddenDim),
        _ => (0, 0),
    };

    /// <summary>Floats per matrix row in the engine's memory: padded to 16 in the aligned copy, so every row starts on a cache line.</summary>
    private int Stride(int cols) => _useArena && cols % 16 != 0 ? (int)Pad(cols) : cols;

    private long TensorLength(string kind)
    {
        var (rows, cols) = Shape(kind);
        return rows == 1 ? cols : (long)rows * Stride(cols);
    }

    private string MatVec(int rows, int cols, bool add) => KernelEmitter.MatVecName(rows, cols, add, Stride(cols));

    private (long Offset, long Length) Slot(string name) => _arenaLayout.Where(e => e.Name == name).Select(e => (e.Offset, e.Length)).First();

    public static EngineSource Emit(EngineSpec spec) => new(spec.HintName, new EngineEmitter(spec).Write());

    private static string I(long v) => Literals.Int(v);
    private int Pairs => _m.RotaryDims / 2;
    private string Generated => $"[global::System.CodeDom.Compiler.GeneratedCode({Literals.String(GeneratorName)}, {Literals.String(GeneratorVersion)})]";

    private string Write()
    {
        WriteHeader();
        var hasNamespace = _spec.Namespace is not null;
        if (hasNamespace) _s.Open($"namespace {_spec.Namespace}");
        foreach (var c in _spec.ContainingTypes) _s.Open($"partial {c.Keyword} {c.Name}");
        WriteEngineClass();
        foreach (var _ in _spec.ContainingTypes) _s.Close();
        if (hasNamespace) _s.Close();
        _s.Line();
        WriteKernels();
        return _s.ToString();
    }

    // -------------------------------------------------------------------------------------------------------------

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
        foreach (var l in Enumerable.Range(0, _m.Layers).Where(l => !_schedule.PrunedLayers.Contains(l) && _steps.All(s => s.Layer != l)))
            _s.Line($"// Layer {l} is left out of the order (plan: order): it never runs.");
        _s.Line("#nullable enable");
        _s.Line();
        _s.Line($"using {Kernels} = global::SpecializedInfer.Generated.Kernels;");
        _s.Line();
    }

    private string Topology() =>
        $"dim {_m.Dim}, ffn {_m.HiddenDim}, {_m.Layers} layers, {_m.Heads} heads of {_m.HeadDim} with {_m.KvHeads} KV heads, " +
        $"rotary {_m.RotaryDims} (θ {Literals.Float((float)_m.RopeTheta).TrimEnd('f')}), ε {Literals.Float((float)_m.NormEps).TrimEnd('f')}, " +
        $"vocab {_m.VocabSize}, context {_m.ContextLength}, {(_m.TiedOutput ? "output head tied to the token embedding" : "separate output matrix")}";

    private string Shapes() =>
        $"attention {_m.Dim}→q {_m.QueryDim}, k/v {_m.KvDim}; ffn {_m.Dim}→{_m.HiddenDim}→{_m.Dim}";

    /// <summary>
    /// 1f / MathF.Sqrt(headDim), bit for bit: the double square root of an integer, rounded to float, is the correctly
    /// rounded float square root (double has more than twice float's precision), and the division is one IEEE operation.
    /// </summary>
    public static float AttentionScale(int headDim) => 1f / (float)System.Math.Sqrt(headDim);

    private static string Xml(string s) => Literals.Comment(s).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    // -------------------------------------------------------------------------------------------------------------
    // The partial class

    private void WriteEngineClass()
    {
        var cls = _spec.ClassIdentifier;
        var weightLayers = _schedule.WeightLayers;
        _s.Line("/// <summary>");
        _s.Line($"/// The engine for {Xml(_m.Name)} generated from <c>{Xml(_spec.PlanFile)}</c>: {Xml(_schedule.Describe())}.");
        _s.Line("/// </summary>");
        _s.Line(Generated);
        _s.Open($"partial class {cls} : {Engine}.ISpecializedEngine<{cls}>");

        _s.Line($"/// <summary>The manifest this engine was generated for ({Xml(_spec.ManifestReference)}).</summary>");
        _s.Line($"public static {Planning}.ModelManifest Manifest {{ get; }} = new {Planning}.ModelManifest");
        _s.Line("{");
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
        if (_m.WeightType is not null) _s.Line($"    WeightType = {Literals.String(_m.WeightType)},");
        if (_m.Tensors != TensorNames.Gguf)
        {
            var t = _m.Tensors;
            _s.Line($"    Tensors = new {Planning}.TensorNames");
            _s.Line("    {");
            foreach (var (name, value) in new[]
                     {
                         ("TokenEmbedding", t.TokenEmbedding), ("OutputNorm", t.OutputNorm), ("Output", t.Output), ("AttentionNorm", t.AttentionNorm),
                         ("Query", t.Query), ("Key", t.Key), ("Value", t.Value), ("AttentionOutput", t.AttentionOutput),
                         ("FeedForwardNorm", t.FeedForwardNorm), ("Gate", t.Gate), ("Up", t.Up), ("Down", t.Down),
                     })
                _s.Line($"        {name} = {Literals.String(value)},");
            _s.Line("    },");
        }
        _s.Line("};");
        _s.Line();

        _s.Line("/// <summary>The schedule compiled into this engine (equal to <c>ExecutionSchedule.Resolve(plan, manifest)</c>).</summary>");
        _s.Line($"public static {Planning}.ExecutionSchedule CompiledSchedule {{ get; }} = new {Planning}.ExecutionSchedule(");
        _s.Line($"    Steps: new {Planning}.EquatableArray<{Planning}.ScheduleStep>(new {Planning}.ScheduleStep[]");
        _s.Line("    {");
        foreach (var st in _steps)
        {
            var exit = st.ExitAfter is { } e ? ExitPointLiteral(e) : "null";
            var skip = st.Skip is { } k
                ? $", new {Planning}.SkipRule({k.Layer}, {Planning}.SkipTest.{k.Test}, {Literals.Double(k.Threshold)}, {(k.Probe is null ? "null" : Literals.String(k.Probe))})"
                : "";
            _s.Line($"        new({st.Index}, {st.Layer}, {st.WeightsOf}, {exit}{skip}),");
        }
        _s.Line("    }),");
        _s.Line($"    DecodeDepth: {_depth},");
        _s.Line($"    KvFill: {Planning}.KvFill.{_schedule.KvFill},");
        _s.Line($"    PrunedLayers: {IntArray(_schedule.PrunedLayers)},");
        if (_schedule.Speculation is null && _probes.Count == 0) _s.Line($"    ModelLayers: {_schedule.ModelLayers});");
        else
        {
            _s.Line($"    ModelLayers: {_schedule.ModelLayers})");
            _s.Line("{");
            if (_schedule.Speculation is { } sp) _s.Line($"    Speculation = new {Planning}.Speculation({sp.DraftSteps}, {sp.DraftTokens}),");
            if (_probes.Count > 0)
            {
                _s.Line($"    Probes = new {Planning}.EquatableArray<{Planning}.LinearProbe>(new {Planning}.LinearProbe[]");
                _s.Line("    {");
                for (var i = 0; i < _probes.Count; i++)
                    _s.Line($"        new({Literals.String(_probes[i].File)}, Session.Probe{i}Bias, new {Planning}.EquatableArray<float>(Session.Probe{i})),");
                _s.Line("    }),");
            }
            _s.Line("};");
        }
        _s.Line();

        _s.Line("/// <summary>The plan file, as named in the [SpecializedEngine] attribute.</summary>");
        _s.Line($"public static string PlanFile => {Literals.String(_spec.PlanFile)};");
        _s.Line();
        _s.Line($"private readonly {Models}.LlamaWeights _weights;");
        if (_useArena)
        {
            _s.Line($"private readonly float[] _arena; // the bound weights, 64-byte aligned ({_arenaLength * 4 / 1024} KiB: cache-sized, so copied)");
            _s.Line("private readonly int _arenaBase;");
            _s.Line();
            _s.Open($"private {cls}({Models}.LlamaWeights weights)");
            _s.Line("_weights = weights;");
            _s.Line("_arena = Session.CopyWeights(weights, out _arenaBase);");
            _s.Close();
        }
        else if (_heads.Count > 0)
        {
            _s.Line($"private readonly {Models}.ExitHeadWeights {string.Join(", ", _heads.Select((_, h) => $"_exitHead{h}"))};");
            _s.Line();
            _s.Open($"private {cls}({Models}.LlamaWeights weights)");
            _s.Line("_weights = weights;");
            _s.Line("// Exit heads are bound (and shape-checked) now, so a missing tensor fails the load, not a token.");
            for (var h = 0; h < _heads.Count; h++) _s.Line($"_exitHead{h} = weights.BindExitHead({HeadLiteral(_heads[h])});");
            _s.Close();
        }
        else
        {
            _s.Line();
            _s.Line($"private {cls}({Models}.LlamaWeights weights) => _weights = weights;");
        }
        _s.Line();

        _s.Line("/// <summary>");
        _s.Line("/// Maps a GGUF model after checking it against the manifest (ManifestCheck.Verify: a mismatch throws");
        _s.Line("/// <see cref=\"global::SpecializedInfer.ManifestMismatchException\"/> naming the property), then binds only the layers the");
        _s.Line($"/// schedule reads ({string.Join(", ", weightLayers)}).");
        _s.Line("/// </summary>");
        _s.Line($"public static {cls} Load(string modelPath) =>");
        _s.Line($"    new({Models}.LlamaWeights.Load(modelPath, Manifest, {Literals.String(_spec.ManifestReference)}, layersToBind: {IntArray(weightLayers, asEnumerable: true)}));");
        _s.Line();

        _s.Line("/// <inheritdoc/>");
        _s.Line($"public {Planning}.ExecutionSchedule Schedule => CompiledSchedule;");
        _s.Line();
        _s.Line("/// <inheritdoc/>");
        _s.Line($"public {Models}.LlamaConfig Config => _weights.Config;");
        _s.Line();
        _s.Line("/// <inheritdoc/>");
        _s.Line($"public string Name => {Literals.String(_spec.ClassName)};");
        _s.Line();
        _s.Line("/// <summary>A new session with its own KV cache for up to <paramref name=\"contextLength\"/> positions (0: the manifest's context length).</summary>");
        _s.Line("public Session CreateSession(int contextLength = 0) => new Session(this, contextLength);");
        _s.Line();
        _s.Line($"{Engine}.IInferenceSession {Engine}.ILanguageModel.CreateSession(int contextLength) => CreateSession(contextLength);");
        _s.Line();
        _s.Line("/// <summary>Unmaps the model file.</summary>");
        _s.Line("public void Dispose() => _weights.Dispose();");
        _s.Line();
        WriteSession();
        _s.Close();
    }

    /// <summary>An exit point as C#: the short maxProbability-style constructor when the test is a bare threshold and the head the model's.</summary>
    private static string ExitPointLiteral(ExitPoint e) =>
        e.Head is null && e.Test == ExitTest.Of(e.Criterion, e.Threshold)
            ? $"new {Planning}.ExitPoint({e.AfterStep}, {Planning}.ExitCriterion.{e.Criterion}, {Literals.Double(e.Threshold)})"
            : $"new {Planning}.ExitPoint({e.AfterStep}, {ExitTestLiteral(e.Test)}, " +
              (e.Head is { } h ? $"new {Planning}.ExitHead({Literals.String(h.Norm)}, {Literals.String(h.Output)}))" : "null)");

    private static string HeadLiteral(ExitHead h) => $"new {Planning}.ExitHead({Literals.String(h.Norm)}, {Literals.String(h.Output)})";

    private static string ExitTestLiteral(ExitTest t)
    {
        var members = t.Members.IsEmpty
            ? $"{Planning}.EquatableArray<{Planning}.ExitTest>.Empty"
            : $"new {Planning}.EquatableArray<{Planning}.ExitTest>(new {Planning}.ExitTest[] {{ {string.Join(", ", t.Members.Select(ExitTestLiteral))} }})";
        return $"new {Planning}.ExitTest({Planning}.ExitCriterion.{t.Criterion}, {Literals.Double(t.Threshold)}, {t.Patience}, {t.Votes}, {members}, " +
               $"{(t.Probe is null ? "null" : Literals.String(t.Probe))})";
    }

    private static string IntArray(IEnumerable<int> values, bool asEnumerable = false)
    {
        var list = values.ToList();
        if (asEnumerable) return list.Count == 0 ? "global::System.Array.Empty<int>()" : $"new int[] {{ {string.Join(", ", list)} }}";
        return list.Count == 0 ? $"{Planning}.EquatableArray<int>.Empty" : $"new {Planning}.EquatableArray<int>(new int[] {{ {string.Join(", ", list)} }})";
    }

    // -------------------------------------------------------------------------------------------------------------
    // The session

    private void WriteSession()
    {
        var cls = _spec.ClassIdentifier;
        var weightLayers = _schedule.WeightLayers;
        _s.Line("/// <summary>");
        _s.Line($"/// One sequence: a KV cache slot per schedule step ({_steps.Length}) and every scratch buffer, allocated here once, so a");
        _s.Line("/// forward step allocates nothing. Not thread-safe; use one session per thread.");
        _s.Line("/// </summary>");
        var batched = new SpeculationEmitter(_s, _spec, Stride);
        _s.Open($"public sealed class Session : {Engine}.IInferenceSession{batched.SessionInterfaces}");
        _s.Line("// Topology: every dimension is a constant.");
        _s.Line($"private const int Dim = {_m.Dim}, HiddenDim = {_m.HiddenDim}, Heads = {_m.Heads}, KvHeads = {_m.KvHeads}, HeadDim = {_m.HeadDim};");
        _s.Line($"private const int QueryDim = {_m.QueryDim}, KvDim = {_m.KvDim}, RotaryDims = {_m.RotaryDims}, VocabSize = {_m.VocabSize};");
        _s.Line($"private const int DefaultContextLength = {_m.ContextLength};");
        _s.Line($"private const float RopeTheta = {Literals.Float((float)_m.RopeTheta)};");
        _s.Line($"private const int Steps = {_steps.Length}, DecodeDepth = {_depth};");
        _s.Line($"private const string TokenRange = \"Token ids run from 0 to {_m.VocabSize - 1}.\";");
        if (_probes.Count > 0) _s.Line($"private const float NormEps = {Literals.Float((float)_m.NormEps)}; // the probes' x̂ = x / sqrt(mean(x²) + ε), as ExitMeasures.Probe takes it");
        _s.Line();
        WriteProbes();
        if (_useArena)
        {
            _s.Line($"// Weights: the layers the schedule reads ({string.Join(", ", weightLayers)}), the output norm and matrix, copied into one");
            _s.Line("// 64-byte-aligned array at load; each tensor starts at a multiple of 16 floats from _arenaBase.");
            _s.Line("private readonly float[] _arena;");
            _s.Line("private readonly int _arenaBase;");
            _s.Line($"private const int ArenaLength = {I(_arenaLength)};");
            _s.Line($"private readonly {Models}.WeightTensor _tokenEmbedding;");
        }
        else
        {
            _s.Line("// Weights: only the layers the schedule reads, straight from the file mapping.");
            _s.Line($"private readonly {Models}.LlamaLayerWeights {string.Join(", ", weightLayers.Select(l => $"_layer{l}"))};");
            _s.Line($"private readonly {Models}.WeightTensor _tokenEmbedding, _outputNorm, _output;");
            if (_heads.Count > 0) _s.Line($"private readonly {Models}.ExitHeadWeights {string.Join(", ", _heads.Select((_, h) => $"_exitHead{h}"))};");
        }
        _s.Line($"private readonly {Engine}.RopeTable _rope;");
        _s.Line();
        _s.Line("// Residual stream and scratch.");
        _s.Line("private readonly float[] _x = new float[Dim], _xb = new float[Dim], _q = new float[QueryDim], _k = new float[KvDim], _att = new float[QueryDim];");
        _s.Line("private readonly float[] _gate = new float[HiddenDim], _up = new float[HiddenDim], _logits = new float[VocabSize], _probe = new float[VocabSize];");
        _s.Line("private readonly float[] _scores; // [Heads][_capacity]");
        if (CosineSkips)
            _s.Line("private readonly float[] _enteredPrevious = new float[Dim]; // the state entering the step before a cosine-skippable one");
        if (SaturationExits)
            _s.Line("private readonly float[] _exitState = new float[Dim]; // state saturation's comparison state: at the previous exit point, or entering the first");
        var recompute = new RecomputeEmitter(_s, _schedule);
        if (recompute.Enabled) recompute.WriteFields();
        _s.Line();
        batched.WriteFields();
        _s.Line("// KV cache, one slot per step (rule 1: a repeated layer has one per repeat). Keys are stored transposed,");
        _s.Line("// [KvDim][_capacity], so attention scores run along positions in whole vectors; values are [position][KvDim].");
        _s.Line($"private readonly float[] {string.Join(", ", _steps.Select(s => $"_keys{s.Index}, _values{s.Index}"))};");
        _s.Line("private readonly int _capacity; // ContextLength rounded up to a multiple of 16");
        _s.Line();
        _s.Open($"internal Session({cls} engine, int contextLength)");
        _s.Line("var weights = engine._weights;");
        _s.Line("ContextLength = contextLength > 0 ? contextLength : DefaultContextLength;");
        _s.Line("_capacity = checked((ContextLength + 15) / 16 * 16);");
        _s.Line($"_rope = new {Engine}.RopeTable(ContextLength, RotaryDims, RopeTheta);");
        if (_useArena)
        {
            _s.Line("_arena = engine._arena;");
            _s.Line("_arenaBase = engine._arenaBase;");
            _s.Line("_tokenEmbedding = weights.TokenEmbedding;");
        }
        else
        {
            foreach (var l in weightLayers) _s.Line($"_layer{l} = weights.Layer({l});");
            _s.Line("_tokenEmbedding = weights.TokenEmbedding;");
            _s.Line("_outputNorm = weights.OutputNorm;");
            _s.Line($"_output = weights.Output;{(_m.TiedOutput ? " // tied: the token embedding" : "")}");
            for (var h = 0; h < _heads.Count; h++) _s.Line($"_exitHead{h} = engine._exitHead{h};");
        }
        if (recompute.Enabled) recompute.WriteConstruction();
        _s.Line("_scores = new float[(long)Heads * _capacity];");
        foreach (var st in _steps)
            _s.Line($"_keys{st.Index} = new float[(long)KvDim * _capacity]; _values{st.Index} = new float[(long)KvDim * _capacity];");
        _s.Line($"Statistics = new {Engine}.SessionStatistics(Steps);");
        _s.Close();
        _s.Line();

        _s.Line("/// <inheritdoc/>");
        _s.Line("public int Position { get; private set; }");
        _s.Line();
        _s.Line("/// <inheritdoc/>");
        _s.Line("public int ContextLength { get; }");
        _s.Line();
        _s.Line("/// <inheritdoc/>");
        _s.Line($"public {Engine}.ILayerObserver? Observer {{ get; set; }}");
        _s.Line();
        _s.Line("/// <inheritdoc/>");
        _s.Line($"public {Engine}.SessionStatistics Statistics {{ get; }}");
        _s.Line();

        if (batched.Speculative) batched.WriteForwardFull();
        else WriteForwardGenerated();
        batched.WriteForwardPrompt();
        if (batched.Speculative) batched.WriteSpeculativeMembers();

        _s.Line("/// <inheritdoc/>");
        _s.Open("public void Rewind(int position)");
        _s.Line("if (position < 0 || position > Position)");
        _s.Line("    throw new global::System.ArgumentOutOfRangeException(nameof(position), position, $\"Can rewind to 0..{Position}.\");");
        if (recompute.Enabled) recompute.WriteRewind();
        _s.Line("Position = position; // entries past it are overwritten before they are read again");
        _s.Close();
        _s.Line();
        _s.Line("/// <inheritdoc/>");
        _s.Line("public void Dispose() { }");
        _s.Line();

        _s.Line("/// <summary>Checks the token and the room left, and puts the token's embedding into the residual stream.</summary>");
        _s.Open("private int Enter(int token)");
        _s.Line("if ((uint)token >= VocabSize)");
        _s.Line("    throw new global::System.ArgumentOutOfRangeException(nameof(token), token, TokenRange);");
        _s.Line("if (Position >= ContextLength)");
        _s.Line("    throw new global::System.InvalidOperationException($\"The session's context of {ContextLength} positions is full.\");");
        _s.Line("_tokenEmbedding.Row(token).CopyTo(_x);");
        _s.Line("return Position;");
        _s.Close();
        _s.Line();

        _s.Line("/// <summary>Position <paramref name=\"pos\"/>'s row of a step's value cache.</summary>");
        _s.Line("private static global::System.Span<float> ValueRow(float[] values, int pos) => new(values, pos * KvDim, KvDim);");
        _s.Line();

        _s.Line("/// <summary>Rule 6: counts the generated token's depth and exit point; the token now occupies its position.</summary>");
        _s.Open($"private {Span} Finish(int pos, int stepsRun, int exitStep)");
        _s.Line("Statistics.RecordGenerated(stepsRun, exitStep);");
        _s.Line("Position = pos + 1;");
        _s.Line("return _logits;");
        _s.Close();
        _s.Line();

        foreach (var st in _steps) WriteStep(st);
        if (!Recompute && !batched.Speculative)
            foreach (var from in PropagationStarts()) WritePropagate(from);
        foreach (var st in _steps.Take(_depth).Where(st => st.Skip is not null)) WriteSkipKv(st);
        if (recompute.Enabled) WriteRecompute();

        _s.Line("/// <summary>The head: final RMSNorm with output_norm, then the output matrix, into the logits.</summary>");
        _s.Open("private void Head()");
        _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(_x, OutputNorm, _xb);");
        _s.Line($"{Kernels}.{MatVec(_m.VocabSize, _m.Dim, false)}(Output, _xb, _logits);");
        _s.Close();
        _s.Line();
        for (var h = 0; h < _heads.Count; h++)
        {
            var at = _steps.Where(st => st.ExitAfter?.Head == _heads[h]).Select(st => st.Index);
            _s.Line($"/// <summary>Exit head {h} (plan: exits after step {string.Join(", ", at)}): RMSNorm with {Xml(_heads[h].Norm)}, then {Xml(_heads[h].Output)}, into the logits.</summary>");
            _s.Open($"private void ExitHead{h}()");
            _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(_x, ExitNorm{h}, _xb);");
            _s.Line($"{Kernels}.{MatVec(_m.VocabSize, _m.Dim, false)}(ExitOutput{h}, _xb, _logits);");
            _s.Close();
            _s.Line();
        }
        WriteWeightAccess();
        _s.Close();
    }

    private bool Recompute => _schedule.KvFill == KvFill.Recompute;

    /// <summary>What a generated token does at each step: the plan's decision model, computed once.</summary>
    private DecodeDecisions Decisions => _decisions ??= DecodeDecisions.For(_schedule);
    private DecodeDecisions? _decisions;

    private bool CosineSkips => Decisions.Keeps(StateSlot.SkipReference);

    private bool SaturationExits => Decisions.Keeps(StateSlot.ExitReference);

    private void WriteForwardGenerated() => new DecisionEmitter(_s, _schedule, Decisions, _heads).WriteForwardGenerated();

    private string Decision(ScheduleStep st)
    {
        var parts = new List<string>();
        var unpruned = Enumerable.Range(0, _m.Layers).Where(l => !_schedule.PrunedLayers.Contains(l)).ToList();
        var inOrder = _steps.Select(s => s.Layer).SequenceEqual(unpruned);
        var repeat = _steps.Take(st.Index).Count(s => s.Layer == st.Layer);
        var text = $"Step {st.Index}: layer {st.Layer}";
        if (st.WeightsOf != st.Layer)
        {
            text += $" running with layer {st.WeightsOf}'s weights";
            parts.Add($"share {st.Layer}<-{st.WeightsOf}");
        }
        if (repeat > 0) parts.Add($"order repeats layer {st.Layer} (run {repeat + 1}, with its own KV cache)");
        else if (!inOrder) parts.Add($"order[{st.Index}] = {st.Layer}");
        else if (st.WeightsOf == st.Layer) parts.Add(_schedule.PrunedLayers.IsEmpty ? "layer in order" : "layer in order after pruning");
        if (st.Index >= _depth) parts.Add($"decodeDepth {_depth}: prompt tokens only");
        if (st.Skip is { } k)
            parts.Add($"skip layer {k.Layer} when {(k.Test == SkipTest.Cosine ? "cos" : $"probe {k.Probe}")} ≥ {Literals.Double(k.Threshold)}");
        if (st.ExitAfter is { } e) parts.Add($"exit check after it, {e.Test.Describe()}{(e.Head is null ? "" : $", head {e.Head.Norm} + {e.Head.Output}")}");
        return Literals.Comment($"{text} (plan: {string.Join("; ", parts)}). {Shapes()}.");
    }

    private void WriteStep(ScheduleStep st)
    {
        var w = $"Layer{st.WeightsOf}()";
        var slot = st.Index;
        _s.Line($"// {Decision(st)}");
        _s.Open($"private void Step{slot}(int pos)");
        _s.Line($"var w = {w};");
        _s.Line($"// Attention: RMSNorm, q/k/v projections, RoPE at pos, K/V into step {slot}'s slot, attention over 0..pos,");
        _s.Line("// output projection added to the residual stream.");
        _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(_x, w.AttentionNorm, _xb);");
        _s.Line($"{Kernels}.{MatVec(_m.QueryDim, _m.Dim, false)}(w.Query, _xb, _q);");
        _s.Line($"{Kernels}.{MatVec(_m.KvDim, _m.Dim, false)}(w.Key, _xb, _k);");
        _s.Line($"{Kernels}.{MatVec(_m.KvDim, _m.Dim, false)}(w.Value, _xb, ValueRow(_values{slot}, pos));");
        if (Pairs > 0)
        {
            _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.Heads, _m.HeadDim)}(_q, _rope.Cos(pos), _rope.Sin(pos));");
            _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.KvHeads, _m.HeadDim)}(_k, _rope.Cos(pos), _rope.Sin(pos));");
        }
        else _s.Line("// rotaryDims 0: no rotary embedding.");
        _s.Line($"{Kernels}.{KernelEmitter.StoreKeyName(_m.KvDim)}(_k, _keys{slot}, pos, _capacity);");
        _s.Line($"{Kernels}.{KernelEmitter.AttentionName}(_q, _keys{slot}, _values{slot}, _scores, _att, pos, _capacity);");
        _s.Line($"{Kernels}.{MatVec(_m.Dim, _m.QueryDim, true)}(w.Output, _att, _x);");
        _s.Line("// Feed-forward: RMSNorm, gate and up projections, SwiGLU, down projection added to the residual stream.");
        _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(_x, w.FeedForwardNorm, _xb);");
        _s.Line($"{Kernels}.{MatVec(_m.HiddenDim, _m.Dim, false)}(w.Gate, _xb, _gate);");
        _s.Line($"{Kernels}.{MatVec(_m.HiddenDim, _m.Dim, false)}(w.Up, _xb, _up);");
        _s.Line($"{Kernels}.{KernelEmitter.SwiGluName(_m.HiddenDim)}(_gate, _up);");
        _s.Line($"{Kernels}.{MatVec(_m.Dim, _m.HiddenDim, true)}(w.Down, _gate, _x);");
        _s.Close();
        _s.Line();
    }

    private void WriteWeightAccess()
    {
        var span = "global::System.ReadOnlySpan<float>";
        _s.Line("/// <summary>One layer's tensors as spans; built per step on the stack.</summary>");
        _s.Open("private readonly ref struct LayerWeights");
        _s.Line($"public readonly {span} {string.Join(", ", TensorKinds)};");
        _s.Line();
        _s.Open($"public LayerWeights({string.Join(", ", TensorKinds.Select(k => $"{span} {Camel(k)}"))})");
        foreach (var k in TensorKinds) _s.Line($"{k} = {Camel(k)};");
        _s.Close();
        _s.Close();
        _s.Line();
        if (_useArena)
        {
            _s.Line("/// <summary>A tensor of the arena: offsets are multiples of 16 floats from the 64-byte-aligned base.</summary>");
            _s.Line($"private {span} Arena(int offset, int length) => new(_arena, _arenaBase + offset, length);");
            _s.Line();
            foreach (var l in _schedule.WeightLayers)
            {
                _s.Line($"private LayerWeights Layer{l}() => new(");
                var args = TensorKinds.Select(k => { var (o, n) = Slot($"{k}{l}"); return $"    {Camel(k)}: Arena({I(o)}, {I(n)})"; }).ToList();
                for (var i = 0; i < args.Count; i++) _s.Line(args[i] + (i + 1 < args.Count ? "," : ");"));
                _s.Line();
            }
            var (no, nn) = Slot("OutputNorm");
            var (oo, on) = Slot("Output");
            _s.Line($"private {span} OutputNorm => Arena({I(no)}, {I(nn)});");
            _s.Line();
            _s.Line($"private {span} Output => Arena({I(oo)}, {I(on)});{(_m.TiedOutput ? " // tied: a copy of the token embedding" : "")}");
            _s.Line();
            for (var h = 0; h < _heads.Count; h++)
            {
                _s.Line($"private {span} ExitNorm{h} => Arena({I(Slot($"ExitNorm{h}").Offset)}, {I(Slot($"ExitNorm{h}").Length)}); // {Literals.Comment(_heads[h].Norm)}");
                _s.Line();
                _s.Line($"private {span} ExitOutput{h} => Arena({I(Slot($"ExitOutput{h}").Offset)}, {I(Slot($"ExitOutput{h}").Length)}); // {Literals.Comment(_heads[h].Output)}");
                _s.Line();
            }
            _s.Line("/// <summary>Copies the bound tensors into one pinned array whose element _arenaBase sits on a 64-byte boundary.</summary>");
            _s.Open($"internal static float[] CopyWeights({Models}.LlamaWeights weights, out int arenaBase)");
            _s.Line("var arena = global::System.GC.AllocateUninitializedArray<float>(ArenaLength + 16, pinned: true);");
            _s.Line("var address = global::System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(arena, 0).ToInt64();");
            _s.Line("arenaBase = (int)((64 - (address & 63)) & 63) / 4; // pinned: the array never moves");
            foreach (var l in _schedule.WeightLayers)
            {
                _s.Line($"var layer{l} = weights.Layer({l});");
                foreach (var k in TensorKinds)
                {
                    var (rows, cols) = Shape(k);
                    _s.Line(rows > 1 && Stride(cols) != cols
                        ? $"CopyRows(layer{l}.{k}.Span, arena, arenaBase + {I(Slot($"{k}{l}").Offset)}, {rows}, {cols}, {Stride(cols)});"
                        : $"layer{l}.{k}.Span.CopyTo(new global::System.Span<float>(arena, arenaBase + {I(Slot($"{k}{l}").Offset)}, {I(Slot($"{k}{l}").Length)}));");
                }
            }
            _s.Line($"weights.OutputNorm.Span.CopyTo(new global::System.Span<float>(arena, arenaBase + {I(no)}, {I(nn)}));");
            _s.Line(Stride(_m.Dim) != _m.Dim
                ? $"CopyRows(weights.Output.Span, arena, arenaBase + {I(oo)}, {_m.VocabSize}, {_m.Dim}, {Stride(_m.Dim)});"
                : $"weights.Output.Span.CopyTo(new global::System.Span<float>(arena, arenaBase + {I(oo)}, {I(on)}));");
            for (var h = 0; h < _heads.Count; h++)
            {
                var (ho, hn) = Slot($"ExitOutput{h}");
                _s.Line($"var exitHead{h} = weights.BindExitHead({HeadLiteral(_heads[h])}); // bound and shape-checked at load");
                _s.Line($"exitHead{h}.Norm.Span.CopyTo(new global::System.Span<float>(arena, arenaBase + {I(Slot($"ExitNorm{h}").Offset)}, {I(_m.Dim)}));");
                _s.Line(Stride(_m.Dim) != _m.Dim
                    ? $"CopyRows(exitHead{h}.Output.Span, arena, arenaBase + {I(ho)}, {_m.VocabSize}, {_m.Dim}, {Stride(_m.Dim)});"
                    : $"exitHead{h}.Output.Span.CopyTo(new global::System.Span<float>(arena, arenaBase + {I(ho)}, {I(hn)}));");
            }
            _s.Line("return arena;");
            _s.Close();
            if (Stride(_m.Dim) != _m.Dim || Stride(_m.HiddenDim) != _m.HiddenDim)
            {
                _s.Line();
                _s.Line("/// <summary>Copies a rows×cols matrix into rows of <paramref name=\"stride\"/> floats (the padding is never read).</summary>");
                _s.Open("private static void CopyRows(global::System.ReadOnlySpan<float> source, float[] arena, int at, int rows, int cols, int stride)");
                _s.Line("for (var r = 0; r < rows; r++) source.Slice(r * cols, cols).CopyTo(new global::System.Span<float>(arena, at + r * stride, cols));");
                _s.Close();
            }
        }
        else
        {
            foreach (var l in _schedule.WeightLayers)
            {
                _s.Line($"private LayerWeights Layer{l}() => new(");
                for (var i = 0; i < TensorKinds.Length; i++)
                    _s.Line($"    _layer{l}.{TensorKinds[i]}.Span" + (i + 1 < TensorKinds.Length ? "," : ");"));
                _s.Line();
            }
            _s.Line($"private {span} OutputNorm => _outputNorm.Span;");
            _s.Line();
            _s.Line($"private {span} Output => _output.Span;");
            for (var h = 0; h < _heads.Count; h++)
            {
                _s.Line();
                _s.Line($"private {span} ExitNorm{h} => _exitHead{h}.Norm.Span; // {Literals.Comment(_heads[h].Norm)}");
                _s.Line();
                _s.Line($"private {span} ExitOutput{h} => _exitHead{h}.Output.Span; // {Literals.Comment(_heads[h].Output)}");
            }
        }
    }

    private static string Camel(string s) => char.ToLowerInvariant(s[0]) + s.Substring(1);

    /// <summary>The first skipped step of every way a generated token can stop early and propagate: after an exit, or at the decode depth.</summary>
    private IEnumerable<int> PropagationStarts() => Decisions.PropagationStarts;

    private void WritePropagate(int from)
    {
        _s.Line($"// Rule 4 (kvFill {_schedule.KvFill}): a generated token that stopped after step {from - 1} never ran steps {from}..{_steps.Length - 1}. Each");
        _s.Line("// gets, at this position, the K/V its layer would project from the hidden state the token stopped with.");
        _s.Open($"private void PropagateFrom{from}(int pos)");
        var groups = _steps.Skip(from).GroupBy(s => s.WeightsOf).ToList();
        foreach (var g in groups)
        {
            var members = g.ToList();
            var first = members[0].Index;
            _s.Line(members.Count == 1
                ? $"// Step {first} (layer {members[0].Layer}, layer {g.Key}'s weights)."
                : $"// Steps {string.Join(", ", members.Select(m => m.Index))} all use layer {g.Key}'s weights: one projection, stored in each slot.");
            _s.OpenBlock();
            _s.Line($"var w = Layer{g.Key}();");
            _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(_x, w.AttentionNorm, _xb);");
            _s.Line($"{Kernels}.{MatVec(_m.KvDim, _m.Dim, false)}(w.Key, _xb, _k);");
            _s.Line($"{Kernels}.{MatVec(_m.KvDim, _m.Dim, false)}(w.Value, _xb, ValueRow(_values{first}, pos));");
            if (Pairs > 0) _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.KvHeads, _m.HeadDim)}(_k, _rope.Cos(pos), _rope.Sin(pos));");
            foreach (var m in members)
            {
                if (m.Index != first) _s.Line($"ValueRow(_values{first}, pos).CopyTo(ValueRow(_values{m.Index}, pos));");
                _s.Line($"{Kernels}.{KernelEmitter.StoreKeyName(_m.KvDim)}(_k, _keys{m.Index}, pos, _capacity);");
            }
            _s.Close();
        }
        _s.Close();
        _s.Line();
    }

    /// <summary>The K/V a skipped step stores at this position: what its layer would project from the state entering it.</summary>
    private void WriteSkipKv(ScheduleStep st)
    {
        _s.Line($"// Step {st.Index} is skippable (plan: skip layer {st.Skip!.Layer}): skipped, it still owes deeper tokens its K/V at this position,");
        _s.Line("// projected from the state entering it (RMSNorm with its attention_norm, K/V projections, RoPE), exactly what it would have stored.");
        _s.Open($"private void SkipKv{st.Index}(int pos)");
        _s.Line($"var w = Layer{st.WeightsOf}();");
        _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(_x, w.AttentionNorm, _xb);");
        _s.Line($"{Kernels}.{MatVec(_m.KvDim, _m.Dim, false)}(w.Key, _xb, _k);");
        _s.Line($"{Kernels}.{MatVec(_m.KvDim, _m.Dim, false)}(w.Value, _xb, ValueRow(_values{st.Index}, pos));");
        if (Pairs > 0) _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.KvHeads, _m.HeadDim)}(_k, _rope.Cos(pos), _rope.Sin(pos));");
        _s.Line($"{Kernels}.{KernelEmitter.StoreKeyName(_m.KvDim)}(_k, _keys{st.Index}, pos, _capacity);");
        _s.Close();
        _s.Line();
    }

    /// <summary>kvFill recompute: the members the runtime's ParkedPositions calls back into.</summary>
    private void WriteRecompute() => new RecomputeEmitter(_s, _schedule).WriteMembers();

    /// <summary>The learned probes as constants, each beside the file it came from.</summary>
    private void WriteProbes()
    {
        for (var i = 0; i < _probes.Count; i++)
        {
            var probe = _probes[i];
            var users = _steps.Where(st => st.ExitAfter is { } e && e.Test.ProbeFiles.Contains(probe.File)).Select(st => $"exit after step {st.Index}")
                .Concat(_steps.Where(st => st.Skip?.Probe == probe.File).Select(st => $"skip before step {st.Index}"));
            _s.Line($"// Probe {i}: {Literals.Comment(probe.File)} (plan: {string.Join(", ", users)}): score = sigmoid(bias + w·x̂), {probe.Dim} weights.");
            _s.Line($"internal const float Probe{i}Bias = {Literals.Float(probe.Bias)};");
            _s.Line($"internal static readonly float[] Probe{i} =");
            _s.Line("{");
            for (var r = 0; r < probe.Weights.Count; r += 8)
                _s.Line("    " + string.Join(" ", probe.Weights.Skip(r).Take(8).Select(w => Literals.Float(w) + ",")));
            _s.Line("};");
            _s.Line();
        }
    }

    // -------------------------------------------------------------------------------------------------------------
    // Kernels

    private void WriteKernels()
    {
        _s.Open("namespace SpecializedInfer.Generated");
        foreach (var u in new[]
                 {
                     "System", "System.Diagnostics.CodeAnalysis", "System.Numerics.Tensors", "System.Runtime.CompilerServices",
                     "System.Runtime.InteropServices", "System.Runtime.Intrinsics", "System.Runtime.Intrinsics.X86",
                 })
            _s.Line($"using {u};");
        _s.Line();
        _s.Line("/// <summary>");
        _s.Line($"/// The kernels of {Xml(_spec.ClassName)}, one per distinct shape, every dimension a literal. File-local: each engine");
        _s.Line("/// carries its own.");
        _s.Line("/// </summary>");
        _s.Line(Generated);
        _s.Open("file static class Kernels");
        _s.Line($"private const float NormEps = {Literals.Float((float)_m.NormEps)};");
        _s.Line($"private const float AttentionScale = {Literals.Float(AttentionScale(_m.HeadDim))}; // 1f / MathF.Sqrt({_m.HeadDim}), as the reference computes it");
        _s.Line();
        var k = new KernelEmitter(_s);
        k.EmitRmsNorm(_m.Dim);
        var matvecs = new List<(int Rows, int Cols, bool Add)>
        {
            (_m.QueryDim, _m.Dim, false), (_m.KvDim, _m.Dim, false), (_m.Dim, _m.QueryDim, true),
            (_m.HiddenDim, _m.Dim, false), (_m.Dim, _m.HiddenDim, true), (_m.VocabSize, _m.Dim, false),
        };
        foreach (var (rows, cols, add) in matvecs.Distinct()) k.EmitMatVec(rows, cols, add, Stride(cols));
        if (Pairs > 0)
            foreach (var heads in new[] { _m.Heads, _m.KvHeads }.Distinct()) k.EmitRope(heads, _m.HeadDim, Pairs);
        k.EmitStoreKey(_m.KvDim);
        k.EmitAttention(_m.Heads, _m.KvHeads, _m.HeadDim);
        k.EmitSwiGlu(_m.HiddenDim);
        new SpeculationEmitter(_s, _spec, Stride).WriteKernels(k);
        k.EmitHelpers();
        _s.Close();
        _s.Close();
    }
}
