using System.Collections.Generic;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

// The per-position kernels that are not matrix products: RMSNorm, SwiGLU, RoPE and the transposed key store.

public sealed partial class KernelEmitter
{
    /// <summary>RmsNorm{n}: x normalized by its root mean square, times the norm's weight.</summary>
    private void EmitRmsNorm(int n)
    {
        var name = RmsNormName(n);
        _s.Line($"/// <summary>RMSNorm of {n} floats: output = x · (1 / √(Σx² / {n} + ε)) · weight, in the reference's order of operations.</summary>");
        _s.Line(Hot);
        using (_s.Block($"public static void {name}(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> output)"))
        {
            _s.Line($"if (x.Length < {n} || weight.Length < {n} || output.Length < {n}) ThrowShape(nameof({name}));");
            _s.Line($"// In range: every offset below is < {n}, and x, weight and output hold at least {n} floats (checked above).");
            _s.Line("ref float xr = ref MemoryMarshal.GetReference(x);");
            _s.Line("ref float wr = ref MemoryMarshal.GetReference(weight);");
            _s.Line("ref float dr = ref MemoryMarshal.GetReference(output);");
            if (_referenceArithmetic)
            {
                _s.Line("// The reference's sum (TensorPrimitives.SumOfSquares): the output is quantized next, so its bits must be the reference's.");
                _s.Line($"float scale = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x.Slice(0, {n})) / {I(n)}f + NormEps);");
                Paths(path => Elementwise(path, n, (vw, o) => vw.Store($"{vw.Load("xr", o)} * scale * {vw.Load("wr", o)}", "dr", o)));
                return;
            }
            Paths(path =>
            {
                var w = path.FitTo(n);
                if (w.IsScalar)
                {
                    _s.Line("float sumOfSquares = 0f;");
                    _s.Line($"for (nuint i = 0; i < {I(n)}; i++) sumOfSquares += Unsafe.Add(ref xr, i) * Unsafe.Add(ref xr, i);");
                }
                else
                {
                    var (main, tails) = w.Split(n);
                    _s.Line($"var acc = {w.Zero};");
                    if (main <= 8)
                        for (var v = 0; v < main; v++)
                        {
                            _s.Line($"var x{v} = {w.Load("xr", I(v * w.Lanes))};");
                            _s.Line($"acc = {w.MulAdd($"x{v}", $"x{v}", "acc")};");
                        }
                    else
                    {
                        // Two accumulators: consecutive FMAs into one register would wait on each other.
                        _s.Line($"var acc2 = {w.Zero};");
                        var pairs = main / 2;
                        using (_s.Block($"for (nuint i = 0; i < {I(pairs * 2 * w.Lanes)}; i += {I(2 * w.Lanes)})"))
                        {
                            _s.Line($"var u = {w.Load("xr", "i")};");
                            _s.Line($"var v = {w.Load("xr", $"i + {I(w.Lanes)}")};");
                            _s.Line($"acc = {w.MulAdd("u", "u", "acc")};");
                            _s.Line($"acc2 = {w.MulAdd("v", "v", "acc2")};");
                        }
                        if (main % 2 == 1)
                        {
                            _s.Line($"var last = {w.Load("xr", I(pairs * 2 * w.Lanes))};");
                            _s.Line($"acc = {w.MulAdd("last", "last", "acc")};");
                        }
                        _s.Line("acc += acc2;");
                    }
                    var terms = new List<string> { w.Sum("acc") };
                    var t = 0;
                    foreach (var (offset, tw) in tails)
                    {
                        _s.Line($"var t{t} = {tw.Load("xr", I(offset))};");
                        terms.Add(tw.IsScalar ? $"t{t} * t{t}" : tw.Sum($"t{t} * t{t}"));
                        t++;
                    }
                    _s.Line($"float sumOfSquares = {string.Join(" + ", terms)};");
                }
                _s.Line($"float scale = 1f / MathF.Sqrt(sumOfSquares / {I(n)}f + NormEps);");
                Elementwise(path, n, (vw, o) => vw.Store($"{vw.Load("xr", o)} * scale * {vw.Load("wr", o)}", "dr", o));
            });
        }
    }

    /// <summary>SwiGlu{n}: gate ← silu(gate)·up, in place.</summary>
    private void EmitSwiGlu(int n)
    {
        var name = SwiGluName(n);
        _s.Line($"/// <summary>SwiGLU over {n} floats in the reference's order: up ← up·gate; gate ← σ(gate); gate ← gate·up (= silu(gate)·up).</summary>");
        _s.Line(Hot);
        using (_s.Block($"public static void {name}(Span<float> gate, Span<float> up)"))
        {
            _s.Line($"if (gate.Length < {n} || up.Length < {n}) ThrowShape(nameof({name}));");
            _s.Line($"// In range: offsets < {n}, and gate and up hold at least {n} floats (checked above).");
            _s.Line("ref float gr = ref MemoryMarshal.GetReference(gate);");
            _s.Line("ref float ur = ref MemoryMarshal.GetReference(up);");
            Paths(path => Elementwise(path, n, (w, o) => w.Store($"{w.Load("ur", o)} * {w.Load("gr", o)}", "ur", o)));
            _s.Line($"TensorPrimitives.Sigmoid(gate.Slice(0, {n}), gate.Slice(0, {n}));");
            Paths(path => Elementwise(path, n, (w, o) => w.Store($"{w.Load("gr", o)} * {w.Load("ur", o)}", "gr", o)));
        }
    }

    /// <summary>Rope{heads}x{headDim}: rotary position embedding of one position's query or key heads, in place.</summary>
    private void EmitRope(int heads, int headDim, int pairs, RopeStyle style)
    {
        if (style == RopeStyle.HalfSplit)
        {
            EmitHalfSplitRope(heads, headDim, pairs);
            return;
        }
        using (RopeKernel(heads, headDim, pairs, "ggml's normal mode): (x[2i], x[2i+1]",
                   $"head h's pair i is at h·{headDim} + 2i (+1) < {I((long)heads * headDim)} since 2i + 1 < {2 * pairs} ≤ {headDim}"))
        {
            using (_s.Block($"for (nuint h = 0; h < {I(heads)}; h++)"))
            {
                _s.Line($"ref float head = ref Unsafe.Add(ref vr, h * {I(headDim)});");
                using (_s.Block($"for (nuint i = 0; i < {I(pairs)}; i++)"))
                {
                    _s.Line("float x0 = Unsafe.Add(ref head, 2 * i), x1 = Unsafe.Add(ref head, 2 * i + 1);");
                    _s.Line("float c = Unsafe.Add(ref cr, i), s = Unsafe.Add(ref sr, i);");
                    _s.Line("Unsafe.Add(ref head, 2 * i) = x0 * c - x1 * s;");
                    _s.Line("Unsafe.Add(ref head, 2 * i + 1) = x0 * s + x1 * c;");
                }
            }
        }
    }

    /// <summary>
    /// Rope{heads}x{headDim} in ggml's NeoX mode (Qwen2): pair i is (x[i], x[i + pairs]), so a head's first halves and
    /// second halves are each contiguous and the rotation runs on whole vectors, lane i with angle i.
    /// </summary>
    private void EmitHalfSplitRope(int heads, int headDim, int pairs)
    {
        using (RopeKernel(heads, headDim, pairs, $"ggml's NeoX mode): (x[i], x[i+{pairs}]",
                   $"head h's pair i is at h·{headDim} + i and h·{headDim} + i + {pairs} < {I((long)heads * headDim)} since i < {pairs} and 2·{pairs} ≤ {headDim}"))
        {
            Paths(path =>
            {
                using (_s.Block($"for (nuint h = 0; h < {I(heads)}; h++)"))
                {
                    _s.Line($"ref float head = ref Unsafe.Add(ref vr, h * {I(headDim)});");
                    _s.Line($"ref float second = ref Unsafe.Add(ref head, {I(pairs)});");
                    var w = path.FitTo(pairs);
                    var (main, tails) = w.Split(pairs);
                    if (w.IsScalar || main > 1)
                        using (_s.Block($"for (nuint i = 0; i < {I(w.IsScalar ? pairs : main * w.Lanes)}; i += {I(w.Lanes)})"))
                            RotateHalves(w, "i");
                    else
                        using (_s.Block())
                            RotateHalves(w, "0");
                    foreach (var (offset, tw) in tails) // exact narrower vectors, then scalars
                        using (_s.Block())
                            RotateHalves(tw, I(offset));
                }
            });
        }
    }

    /// <summary>
    /// A RoPE kernel's summary, signature, shape check and references (<c>vr</c>, <c>cr</c>, <c>sr</c>); the body goes
    /// inside the returned scope. <paramref name="pairing"/> names the mode and a pair, <paramref name="inRange"/> says
    /// why every offset is in range.
    /// </summary>
    private SourceWriter.Scope RopeKernel(int heads, int headDim, int pairs, string pairing, string inRange)
    {
        var name = RopeName(heads, headDim);
        _s.Line("/// <summary>");
        _s.Line($"/// RoPE on {heads} heads of {headDim} ({pairs} rotated pairs each; {pairing}) turn by the");
        _s.Line("/// position's angle i, exactly as the reference computes it (no FMA, so the bits match).");
        _s.Line("/// </summary>");
        _s.Line(Hot);
        var scope = _s.Block($"public static void {name}(Span<float> v, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)");
        _s.Line($"if (v.Length < {I((long)heads * headDim)} || cos.Length < {pairs} || sin.Length < {pairs}) ThrowShape(nameof({name}));");
        _s.Line($"// In range: {inRange}; cos and sin hold ≥ {pairs}.");
        _s.Line("ref float vr = ref MemoryMarshal.GetReference(v);");
        _s.Line("ref float cr = ref MemoryMarshal.GetReference(cos);");
        _s.Line("ref float sr = ref MemoryMarshal.GetReference(sin);");
        return scope;
    }

    /// <summary>Pairs o.. of one head (a vector's worth, or one): both new values computed from the old ones before either is stored.</summary>
    private void RotateHalves(VectorWidth w, string o)
    {
        _s.Line($"var x0 = {w.Load("head", o)};");
        _s.Line($"var x1 = {w.Load("second", o)};");
        _s.Line($"var c = {w.Load("cr", o)};");
        _s.Line($"var s = {w.Load("sr", o)};");
        _s.Line(w.Store("x0 * c - x1 * s", "head", o));
        _s.Line(w.Store("x0 * s + x1 * c", "second", o));
    }

    /// <summary>AddBias{n}: a projection's bias added to the rows a thread computed, in each position of a batch.</summary>
    private void EmitAddBias(int n)
    {
        var name = AddBiasName(n);
        _s.Line($"/// <summary>");
        _s.Line($"/// Adds the {n}-float bias to elements from..to−1 of each of <paramref name=\"count\"/> consecutive rows of {n} (Qwen2's query, key");
        _s.Line("/// and value biases, after the product), with the reference's call: one IEEE addition per element, so any split gives its bits.");
        _s.Line($"/// </summary>");
        _s.Line(Hot);
        using (_s.Block($"public static void {name}(Span<float> rows, ReadOnlySpan<float> bias, int count, int from, int to)"))
        {
            _s.Line($"if (bias.Length < {n} || (uint)from > (uint)to || to > {n} || rows.Length < (long)count * {n}) ThrowShape(nameof({name}));");
            _s.Line("var part = bias.Slice(from, to - from);");
            using (_s.Block("for (var j = 0; j < count; j++)"))
            {
                _s.Line($"var row = rows.Slice(j * {n} + from, to - from);");
                _s.Line("TensorPrimitives.Add(row, part, row);");
            }
        }
    }

    /// <summary>StoreKey{kvDim}: one position's key into a step's transposed key cache (with reference arithmetic: its row).</summary>
    private void EmitStoreKey(int kvDim)
    {
        var name = StoreKeyName(kvDim);
        if (_referenceArithmetic)
        {
            _s.Line($"/// <summary>Stores one position's key ({kvDim} floats) into its row of a step's key cache, as the reference keeps keys: keys[position·{kvDim} + c] = k[c].</summary>");
            _s.Line(Hot);
            using (_s.Block($"public static void {name}(ReadOnlySpan<float> k, Span<float> keys, int position, int capacity)"))
            {
                _s.Line($"if (k.Length < {kvDim} || (uint)position >= (uint)capacity || keys.Length < (long){kvDim} * capacity) ThrowShape(nameof({name}));");
                _s.Line($"k.Slice(0, {kvDim}).CopyTo(keys.Slice(position * {kvDim}, {kvDim}));");
            }
            return;
        }
        _s.Line($"/// <summary>Stores one position's key ({kvDim} floats) into a step's transposed key cache: keys[c·capacity + position] = k[c].</summary>");
        _s.Line(Hot);
        using (_s.Block($"public static void {name}(ReadOnlySpan<float> k, Span<float> keys, int position, int capacity)"))
        {
            _s.Line($"if (k.Length < {kvDim} || (uint)position >= (uint)capacity || keys.Length < (long){kvDim} * capacity) ThrowShape(nameof({name}));");
            _s.Line($"// In range: c·capacity + position < {kvDim}·capacity ≤ keys.Length, since c < {kvDim} and position < capacity (checked above).");
            _s.Line("ref float kr = ref MemoryMarshal.GetReference(k);");
            _s.Line("ref float dst = ref Unsafe.Add(ref MemoryMarshal.GetReference(keys), (nuint)position);");
            _s.Line($"for (nuint c = 0; c < {I(kvDim)}; c++) Unsafe.Add(ref dst, c * (nuint)capacity) = Unsafe.Add(ref kr, c);");
        }
    }
}
