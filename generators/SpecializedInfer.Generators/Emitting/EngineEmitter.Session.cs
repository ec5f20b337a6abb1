using System.Linq;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

// The nested Session: one sequence's KV cache and scratch, its constructor and small members; the forward passes,
// steps, K/V filling and heads are written by the other parts, in this order.

public sealed partial class EngineEmitter
{
    private void WriteSession()
    {
        _s.Line("/// <summary>");
        _s.Line($"/// One sequence: a KV cache slot per schedule step ({_steps.Length}) and every scratch buffer. Scratch is allocated here once;");
        _s.Line("/// what grows with the context (KV cache, rotary table, scores) is held as it fills, doubling (ContextCapacity), so a");
        _s.Line("/// forward step allocates nothing except when the context outgrows what is held. Not thread-safe; use one session per thread.");
        _s.Line("/// </summary>");
        var interfaces = _speculative is null ? "" : $", {SpeculativeSessionEmitter.Interface}";
        using (_s.Block($"public sealed class Session : {Engine}.IInferenceSession{interfaces}, {Engine}.IPartitionedWork"))
        {
            WriteSessionConstants();
            WriteKernelsName();
            WriteProbes();
            WriteSessionFields();
            WriteSessionConstructor();
            _s.Line();
            WriteSessionProperties();

            if (_speculative is not null) _speculative.WriteForwardFull();
            else _forward!.WriteForwardGenerated();
            _batched.WriteForwardPrompt();
            _speculative?.WriteMembers();

            WriteRewindAndDispose();
            WriteEnterAndFinish();
            WriteGrow();

            foreach (var st in _steps) WriteStep(st);
            WriteKvFill();

            WriteHeads();
            WriteWeightAccess();
            _ops.WriteMembers(_s); // last: every call site above has registered its op
        }
    }

    private void WriteSessionConstants()
    {
        _s.Line("// Topology: every dimension is a constant.");
        _s.Line($"private const int Dim = {_m.Dim}, HiddenDim = {_m.HiddenDim}, Heads = {_m.Heads}, KvHeads = {_m.KvHeads}, HeadDim = {_m.HeadDim};");
        _s.Line($"private const int QueryDim = {_m.QueryDim}, KvDim = {_m.KvDim}, RotaryDims = {_m.RotaryDims}, VocabSize = {_m.VocabSize};");
        _s.Line($"private const int DefaultContextLength = {_m.ContextLength};");
        _s.Line($"private const float RopeTheta = {Literals.Float((float)_m.RopeTheta)};");
        _s.Line($"private const int Steps = {_steps.Length}, DecodeDepth = {_depth};");
        if (_probes.Count > 0) _s.Line($"private const float NormEps = {Literals.Float((float)_m.NormEps)}; // the probes' x̂ = x / sqrt(mean(x²) + ε), as ExitMeasures.Probe takes it");
        _s.Line();
    }

    /// <summary>
    /// The short name the session calls its kernels by: a class nested here, deriving from the engine's kernel class
    /// (<see cref="KernelClass"/>). A simple name is looked up in the session before the user's class and namespace, and
    /// the session's members are all generated, so no type or member of the user's can capture it.
    /// </summary>
    private void WriteKernelsName()
    {
        _s.Line($"// The kernels ({Literals.Comment(KernelSet.KernelsHintName(_spec.HintName))}), by a name nothing of the user's can capture.");
        _s.Line($"private abstract class {Kernels} : {KernelClass.For(_spec).Reference} {{ }}");
        _s.Line();
    }

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
            using (_s.Block(closing: "};"))
                for (var r = 0; r < probe.Weights.Count; r += 8)
                    _s.Line(string.Join(" ", probe.Weights.Skip(r).Take(8).Select(w => Literals.Float(w) + ",")));
            _s.Line();
        }
    }

    private void WriteSessionFields()
    {
        _layout.WriteSessionFields(_s);
        _s.Line($"private readonly {Engine}.RopeTable _rope;");
        _s.Line();
        _s.Line("// Residual stream and scratch.");
        _s.Line("private readonly float[] _x = new float[Dim], _xb = new float[Dim], _q = new float[QueryDim], _k = new float[KvDim], _att = new float[QueryDim];");
        _s.Line("private readonly float[] _gate = new float[HiddenDim], _up = new float[HiddenDim], _logits = new float[VocabSize], _probe = new float[VocabSize];");
        _s.Line("private float[] _scores; // [Heads][_capacity]");
        WriteAdapterFields();
        _s.Line($"private readonly {Engine}.WorkerPool _pool; // the threads a forward pass runs on (the caller's included)");
        _forward?.WriteStateFields();
        if (_recompute.Enabled) _recompute.WriteFields();
        _s.Line();
        _batched.WriteFields();
        _speculative?.WriteFields();
        if (_layout.ReferenceArithmetic)
            _s.Lines("""
                     // KV cache, one slot per step (rule 1: a repeated layer has one per repeat). Keys and values are
                     // [position][KvDim], as the reference keeps them (its attention's calls, in its order).
                     """);
        else
            _s.Lines("""
                     // KV cache, one slot per step (rule 1: a repeated layer has one per repeat). Keys are stored transposed,
                     // [KvDim][_capacity], so attention scores run along positions in whole vectors; values are [position][KvDim].
                     """);
        var cached = _steps.Where(s => s.HasKvCache).ToList();
        if (cached.Count < _steps.Length)
            _s.Line($"// {Literals.Numbered("Step", _steps.Where(s => !s.HasKvCache).Select(s => s.Index), "runs", "run")} no attention (plan: skipAttention), so no K/V slot: nothing would read it.");
        if (cached.Count > 0) _s.Line($"private float[] {string.Join(", ", cached.Select(s => $"_keys{s.Index}, _values{s.Index}"))};");
        _s.Line("private int _capacity; // positions held, a multiple of 16: grows as the context fills (Grow)");
        var pairs = _m.RotaryDims / 2;
        var perPosition = 4L * (2L * _m.KvDim * cached.Count + 2L * pairs + _m.Heads) + (_recompute.Enabled ? 4L * _m.Dim + 8 : 0);
        _s.Line($"// Bytes per position of context: K and V of {cached.Count} steps × {_m.KvDim}, rotary cos/sin of {pairs} pairs, {_m.Heads} scores" +
                (_recompute.Enabled ? $", a parked state of {_m.Dim} and its bookkeeping." : "."));
        _s.Line($"private const long BytesPerPosition = {perPosition};");
        _s.Line();
    }

    private void WriteSessionConstructor()
    {
        using (_s.Block($"internal Session({_spec.ClassIdentifier} engine, {Engine}.SessionOptions options)"))
        {
            _s.Line("var weights = engine._weights;");
            _s.Line("ContextLength = options.ContextLength > 0 ? options.ContextLength : DefaultContextLength;");
            var widest = System.Math.Max(System.Math.Max(_m.KvDim, _m.Heads), _recompute.Enabled ? _m.Dim : 0); // floats per position in the largest array
            _s.Line($"{Engine}.ContextCapacity.EnsureFits(ContextLength, BytesPerPosition, {widest}, \"the engine {_spec.ClassIdentifier}\");");
            _s.Line($"_capacity = {Engine}.ContextCapacity.Initial(ContextLength);");
            if (_m.RopeFrequencyFactors)
            {
                _s.Line("// Rotary frequency factors (Llama 3's rope_freqs.weight) are data: read from the file, as llama.cpp does.");
                _s.Line($"_rope = {Engine}.RopeTable.For(weights, _capacity);");
            }
            else _s.Line($"_rope = new {Engine}.RopeTable(_capacity, RotaryDims, RopeTheta);");
            _layout.WriteSessionInitialization(_s);
            WriteAdapterBinding();
            if (_recompute.Enabled) _recompute.WriteConstruction();
            _s.Line("_scores = new float[(long)Heads * _capacity];");
            foreach (var st in _steps.Where(s => s.HasKvCache))
                _s.Line($"_keys{st.Index} = new float[(long)KvDim * _capacity]; _values{st.Index} = new float[(long)KvDim * _capacity];");
            _s.Line($"Statistics = new {Engine}.SessionStatistics(Steps);");
            _s.Line($"_pool = new {Engine}.WorkerPool(options.EffectiveThreads);");
        }
    }

    /// <summary>Position, ContextLength, Observer and Statistics.</summary>
    private void WriteSessionProperties()
    {
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
        _s.Line("/// <summary>The threads this session computes on (SessionOptions.Threads; the logits are the same bits for any number).</summary>");
        _s.Line("public int Threads => _pool.Threads;");
        _s.Line();
    }

    private void WriteRewindAndDispose()
    {
        _s.Line("/// <inheritdoc/>");
        using (_s.Block("public void Rewind(int position)"))
        {
            _s.Line("if (position < 0 || position > Position)");
            using (_s.Indent()) _s.Line($"throw new {ArgumentOutOfRangeException}($\"The session can rewind to a position from 0 to {{Position}}, not {{position}}.\", innerException: null);");
            if (_recompute.Enabled) _recompute.WriteRewind();
            _s.Line("Position = position; // entries past it are overwritten before they are read again");
        }
        _s.Line();
        _s.Line("/// <summary>Stops the session's worker threads.</summary>");
        _s.Line("public void Dispose() => _pool.Dispose();");
        _s.Line();
    }

    /// <summary>
    /// The exception for a token id outside the vocabulary (a local <c>token</c>), as the reference throws it: the
    /// message-only constructor, so the message reaches users as a sentence without "(Parameter 'token')".
    /// </summary>
    internal static string TokenOutOfRange =>
        $"new {ArgumentOutOfRangeException}($\"Token id {{token}} is outside the vocabulary: ids run from 0 to {{VocabSize - 1}}.\", innerException: null)";

    /// <summary>Enter (a token into the residual stream), ValueRow and Finish (rule 6's bookkeeping), which every forward pass shares.</summary>
    private void WriteEnterAndFinish()
    {
        _s.Line("/// <summary>Checks the token and the room left, and puts the token's embedding into the residual stream.</summary>");
        using (_s.Block("private int Enter(int token)"))
        {
            _s.Line("if ((uint)token >= VocabSize)");
            using (_s.Indent()) _s.Line($"throw {TokenOutOfRange};");
            _s.Line("if (Position >= ContextLength)");
            using (_s.Indent()) _s.Line($"throw new {InvalidOperationException}($\"The session's context of {{ContextLength}} positions is full.\");");
            _s.Line("if (Position >= _capacity) Grow(Position + 1);");
            _s.Line(_layout.EmbeddingRow("token", "_x"));
            _s.Line("return Position;");
        }
        _s.Line();

        _s.Line("/// <summary>Position <paramref name=\"pos\"/>'s row of a step's value cache.</summary>");
        _s.Line($"private static {FloatSpan} ValueRow(float[] values, int pos) => new(values, pos * KvDim, KvDim);");
        _s.Line();

        _s.Line("/// <summary>Rule 6: counts the generated token's depth and exit point; the token now occupies its position.</summary>");
        using (_s.Block($"private {FloatReadOnlySpan} Finish(int pos, int stepsRun, int exitStep)"))
        {
            _s.Line("Statistics.RecordGenerated(stepsRun, exitStep);");
            _s.Line("Position = pos + 1;");
            _s.Line("return _logits;");
        }
        _s.Line();
    }

    /// <summary>Grow: the session's context held as it fills, every cached entry kept (keys re-strided, since they are stored transposed).</summary>
    private void WriteGrow()
    {
        _s.Line("/// <summary>Holds at least <paramref name=\"positions\"/> positions (ContextCapacity.Grow: doubling), keeping every cached entry.</summary>");
        using (_s.Block("private void Grow(int positions)"))
        {
            _s.Line($"var capacity = {Engine}.ContextCapacity.Grow(_capacity, positions, ContextLength);");
            foreach (var st in _steps.Where(s => s.HasKvCache))
                _s.Line($"_keys{st.Index} = GrowKeys(_keys{st.Index}, capacity); {Array}.Resize(ref _values{st.Index}, KvDim * capacity); // ≤ Array.MaxLength (EnsureFits)");
            _s.Line("_scores = new float[(long)Heads * capacity];");
            _s.Line("_rope.EnsurePositions(capacity);");
            if (_recompute.Enabled) _s.Line("_parked.EnsurePositions(capacity);");
            _s.Line("_capacity = capacity;");
        }
        _s.Line();
        if (_layout.ReferenceArithmetic)
        {
            _s.Line("/// <summary>A key cache ([position][KvDim]) at a larger capacity: the rows kept, as the values'.</summary>");
            using (_s.Block("private static float[] GrowKeys(float[] keys, int capacity)"))
            {
                _s.Line($"{Array}.Resize(ref keys, KvDim * capacity);");
                _s.Line("return keys;");
            }
        }
        else
        {
            _s.Line("/// <summary>A transposed key cache ([KvDim][capacity]) at a larger capacity: each dimension's row keeps its positions.</summary>");
            using (_s.Block("private float[] GrowKeys(float[] keys, int capacity)"))
            {
                _s.Line("var grown = new float[(long)KvDim * capacity];");
                _s.Line($"for (var c = 0; c < KvDim; c++) {Array}.Copy(keys, (long)c * _capacity, grown, (long)c * capacity, _capacity);");
                _s.Line("return grown;");
            }
        }
        _s.Line();
    }
}
