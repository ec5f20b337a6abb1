using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Generators.Emitting;

// Causal attention over one step's KV cache: scores along positions, softmax, the weighted sum of values.

public sealed partial class KernelEmitter
{
    /// <summary>Attention: one position's query heads over positions 0..position of a step's KV cache.</summary>
    private void EmitAttention(int heads, int kvHeads, int headDim)
    {
        if (_referenceArithmetic)
        {
            EmitReferenceAttention(heads, kvHeads, headDim);
            return;
        }
        var ratio = heads / kvHeads;
        long queryDim = (long)heads * headDim, kvDim = (long)kvHeads * headDim;
        _s.Line("/// <summary>");
        _s.Line($"/// Causal attention of {heads} query heads over {kvHeads} KV heads ({ratio} query heads per KV head) of {headDim}, over positions");
        _s.Line("/// 0..position of one step's cache. Scores run along positions (keys are stored transposed), padded to whole vectors");
        _s.Line("/// with -∞; softmax subtracts each head's maximum before one Exp over all heads; output = Σ p_t · V_t.");
        _s.Line("/// </summary>");
        _s.Line(Hot);
        using (_s.Block($"public static void {AttentionName}(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, Span<float> scores, Span<float> output, int position, int capacity, int firstKvHead, int endKvHead)"))
        {
            _s.Line($"if ((uint)position >= (uint)capacity || (capacity & 15) != 0 || q.Length < {I(queryDim)} || output.Length < {I(queryDim)} || (uint)firstKvHead > (uint)endKvHead || endKvHead > {kvHeads}");
            _s.Line($"    || keys.Length < (long){I(kvDim)} * capacity || values.Length < (long){I(kvDim)} * (position + 1) || scores.Length < (long){I(heads)} * capacity)");
            _s.Line($"    ThrowShape(nameof({AttentionName}));");
            _s.Line("// In range (all checked above): scores of head h live at h·capacity + t with t < stride ≤ capacity; keys of KV head g, dimension d,");
            _s.Line($"// position t at (g·{headDim} + d)·capacity + t < {kvDim}·capacity; values at t·{kvDim} + g·{headDim} + d with t ≤ position.");
            _s.Line("ref float qr = ref MemoryMarshal.GetReference(q);");
            _s.Line("ref float kr = ref MemoryMarshal.GetReference(keys);");
            _s.Line("ref float vr = ref MemoryMarshal.GetReference(values);");
            _s.Line("ref float sr = ref MemoryMarshal.GetReference(scores);");
            _s.Line("ref float dr = ref MemoryMarshal.GetReference(output);");
            _s.Line("nuint n = (nuint)position + 1;");
            _s.Line("nuint cap = (nuint)capacity;");
            _s.Line($"nuint h0 = (nuint)firstKvHead * {ratio}, h1 = (nuint)endKvHead * {ratio}; // the query heads of KV heads firstKvHead..endKvHead−1 (a thread's share)");
            Paths(w => AttentionPath(w, heads, ratio, headDim, kvDim));
        }
    }

    /// <summary>
    /// Attention with the reference's arithmetic (engines whose attention output is quantized next): per head, the
    /// scores by TensorPrimitives.Dot over keys kept a row per position, the maximum subtracted, SoftMax, and the values
    /// added with MultiplyAdd in position order, exactly the reference engine's calls.
    /// </summary>
    private void EmitReferenceAttention(int heads, int kvHeads, int headDim)
    {
        var ratio = heads / kvHeads;
        long queryDim = (long)heads * headDim, kvDim = (long)kvHeads * headDim;
        _s.Line("/// <summary>");
        _s.Line($"/// Causal attention of {heads} query heads over {kvHeads} KV heads ({ratio} query heads per KV head) of {headDim}, over positions");
        _s.Line("/// 0..position of one step's cache (keys and values a row per position), in the reference engine's calls and order, since");
        _s.Line("/// the output is quantized next: per head, scores by Dot, the maximum subtracted, SoftMax, then Σ p_t · V_t by MultiplyAdd.");
        _s.Line("/// </summary>");
        _s.Line(Hot);
        using (_s.Block($"public static void {AttentionName}(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, Span<float> scores, Span<float> output, int position, int capacity, int firstKvHead, int endKvHead)"))
        {
            _s.Line($"if ((uint)position >= (uint)capacity || q.Length < {I(queryDim)} || output.Length < {I(queryDim)} || (uint)firstKvHead > (uint)endKvHead || endKvHead > {kvHeads}");
            _s.Line($"    || keys.Length < (long){I(kvDim)} * (position + 1) || values.Length < (long){I(kvDim)} * (position + 1) || scores.Length < (long){heads} * capacity)");
            _s.Line($"    ThrowShape(nameof({AttentionName}));");
            _s.Line("// Query heads of KV heads firstKvHead..endKvHead−1 (a thread's share), each with its own row of scores.");
            using (_s.Block($"for (var h = firstKvHead * {ratio}; h < endKvHead * {ratio}; h++)"))
            {
                _s.Line("var s = scores.Slice(h * capacity, position + 1);");
                _s.Line($"var kv = h / {ratio} * {headDim}; // the KV head's offset in a row");
                _s.Line($"var qh = q.Slice(h * {headDim}, {headDim});");
                _s.Line($"for (var t = 0; t <= position; t++) s[t] = TensorPrimitives.Dot(qh, keys.Slice(t * {I(kvDim)} + kv, {headDim})) * AttentionScale;");
                _s.Line("TensorPrimitives.Subtract(s, TensorPrimitives.Max(s), s);");
                _s.Line("TensorPrimitives.SoftMax(s, s);");
                _s.Line($"var oh = output.Slice(h * {headDim}, {headDim});");
                _s.Line("oh.Clear();");
                _s.Line($"for (var t = 0; t <= position; t++) TensorPrimitives.MultiplyAdd(values.Slice(t * {I(kvDim)} + kv, {headDim}), s[t], oh, oh);");
            }
        }
    }

    /// <summary>
    /// Query heads processed together: the heads sharing one KV head (grouped-query attention) read each key and
    /// value vector once for all of them. Up to 4 at a time (a divisor of the ratio), fewer when their accumulators
    /// would not fit in registers.
    /// </summary>
    private static int GroupSize(VectorWidth w, int ratio, int headDim)
    {
        if (w.IsScalar || headDim > 32) return 1;
        var pieces = w.FitTo(headDim) is var fw && fw.IsScalar ? headDim : fw.Split(headDim).Main + fw.Split(headDim).Tails.Count;
        var group = 1;
        for (var g = 2; g <= 4; g++)
            if (ratio % g == 0 && g * pieces <= 8) group = g;
        return group;
    }

    private void AttentionPath(VectorWidth w, int heads, int ratio, int headDim, long kvDim)
    {
        var L = w.Lanes;
        var group = GroupSize(w, ratio, headDim);
        var groups = heads / group;
        // Scores: along positions, one vector of positions at a time (scalar: one position).
        _s.Line(w.IsScalar
            ? "nuint stride = n;"
            : $"nuint stride = (n + {L - 1}) & ~(nuint){L - 1}; // whole vectors; ≤ capacity, a multiple of 16 above position");
        using (_s.Block($"for (nuint h = h0; h < h1; h += {group})"))
        {
            _s.Line(group == 1
                ? $"ref float kh = ref Unsafe.Add(ref kr, h / {I(ratio)} * {I(headDim)} * cap); // KV head h / {ratio}"
                : $"ref float kh = ref Unsafe.Add(ref kr, h / {I(ratio)} * {I(headDim)} * cap); // KV head h / {ratio}, shared by heads h..h+{group - 1}");
            for (var j = 0; j < group; j++)
            {
                _s.Line($"ref float qh{j} = ref Unsafe.Add(ref qr, {Head(j)} * {I(headDim)});");
                _s.Line($"ref float sh{j} = ref Unsafe.Add(ref sr, {Head(j)} * cap);");
            }
            using (_s.Block($"for (nuint t = 0; t < stride; t += {L})"))
            {
                if (headDim <= 32)
                {
                    // Unrolled over the head's dimensions; with a single head, two accumulators alternate so the FMAs overlap.
                    var split = group == 1 && headDim >= 2;
                    for (var d = 0; d < headDim; d++)
                    {
                        var k = w.Load("kh", d == 0 ? "t" : $"{(d == 1 ? "cap" : $"{d} * cap")} + t");
                        if (group > 1) _s.Line($"{(d == 0 ? "var " : "")}k = {k};");
                        for (var j = 0; j < group; j++)
                        {
                            var acc = split && d % 2 == 1 ? $"b{j}" : $"a{j}";
                            var first = split ? d < 2 : d == 0;
                            var qd = w.Broadcast(d == 0 ? $"qh{j}" : $"Unsafe.Add(ref qh{j}, {d})");
                            var kv = group > 1 ? "k" : k;
                            _s.Line(first ? $"var {acc} = {qd} * {kv};" : $"{acc} = {w.MulAdd(qd, kv, acc)};");
                        }
                    }
                    for (var j = 0; j < group; j++)
                        _s.Line(w.Store(split ? $"(a{j} + b{j}) * AttentionScale" : $"a{j} * AttentionScale", $"sh{j}", "t"));
                }
                else
                {
                    _s.Line($"var a = {w.Zero}; var b = {w.Zero}; var c = {w.Zero}; var e = {w.Zero};");
                    _s.Line("ref float kt = ref Unsafe.Add(ref kh, t);");
                    var quads = headDim / 4 * 4;
                    using (_s.Block($"for (nuint d = 0; d < {quads}; d += 4)"))
                    {
                        string[] accs = { "a", "b", "c", "e" };
                        for (var u = 0; u < 4; u++)
                        {
                            var dd = u == 0 ? "d" : $"d + {u}";
                            _s.Line($"{accs[u]} = {w.MulAdd(w.Broadcast($"Unsafe.Add(ref qh0, {dd})"), w.Load("kt", $"({dd}) * cap"), accs[u])};");
                        }
                    }
                    for (var d = quads; d < headDim; d++)
                        _s.Line($"a = {w.MulAdd(w.Broadcast($"Unsafe.Add(ref qh0, {d})"), w.Load("kt", $"{d} * cap"), "a")};");
                    _s.Line(w.Store("(a + b + (c + e)) * AttentionScale", "sh0", "t"));
                }
            }
        }

        // Softmax, each head (its own row of scores, capacity apart, so threads on other heads never touch it): subtract
        // its maximum (padding past position set to -∞), Exp, normalize.
        using (_s.Block("for (nuint h = h0; h < h1; h++)"))
        {
            _s.Line("ref float sh = ref Unsafe.Add(ref sr, h * cap);");
            if (!w.IsScalar)
            {
                _s.Line("for (nuint t = n; t < stride; t++) Unsafe.Add(ref sh, t) = float.NegativeInfinity; // padding past position: weight 0");
                _s.Line($"var m = {w.Load("sh", "0")};");
                _s.Line($"for (nuint t = {L}; t < stride; t += {L}) m = {w.Api}.Max(m, {w.Load("sh", "t")});");
                _s.Line($"var max = {w.Broadcast("HorizontalMax(m)")};");
                _s.Line($"for (nuint t = 0; t < stride; t += {L}) {w.Store($"{w.Load("sh", "t")} - max", "sh", "t")}");
            }
            else
            {
                _s.Line("float max = float.NegativeInfinity;");
                _s.Line("for (nuint t = 0; t < n; t++) max = MathF.Max(max, Unsafe.Add(ref sh, t));");
                _s.Line("for (nuint t = 0; t < n; t++) Unsafe.Add(ref sh, t) -= max;");
            }
        }
        using (_s.Block("for (nuint h = h0; h < h1; h++)"))
        {
            _s.Line("ref float sh = ref Unsafe.Add(ref sr, h * cap);");
            _s.Line("var row = MemoryMarshal.CreateSpan(ref sh, (int)stride);");
            _s.Line("TensorPrimitives.Exp(row, row);");
            if (!w.IsScalar)
            {
                _s.Line($"var sum = {w.Load("sh", "0")};");
                _s.Line($"for (nuint t = {L}; t < stride; t += {L}) sum += {w.Load("sh", "t")};");
                _s.Line($"var total = {w.Broadcast(w.Sum("sum"))};");
                _s.Line($"for (nuint t = 0; t < stride; t += {L}) {w.Store($"{w.Load("sh", "t")} / total", "sh", "t")} // p = e / Σe, as the softmax divides");
            }
            else
            {
                _s.Line("float total = 0f;");
                _s.Line("for (nuint t = 0; t < n; t++) total += Unsafe.Add(ref sh, t);");
                _s.Line("for (nuint t = 0; t < n; t++) Unsafe.Add(ref sh, t) /= total;");
            }
        }

        // The weighted sum of values, heads sharing a KV head together.
        using (_s.Block($"for (nuint h = h0; h < h1; h += {group})"))
        {
            _s.Line($"ref float vh = ref Unsafe.Add(ref vr, h / {I(ratio)} * {I(headDim)}); // KV head h / {ratio}; position t's row at t·{kvDim}");
            for (var j = 0; j < group; j++)
            {
                _s.Line($"ref float sh{j} = ref Unsafe.Add(ref sr, {Head(j)} * cap);");
                _s.Line($"ref float oh{j} = ref Unsafe.Add(ref dr, {Head(j)} * {I(headDim)});");
            }
            ValueSum(w, headDim, kvDim, group);
        }
    }

    private static string Head(int j) => j == 0 ? "h" : $"(h + {j})";

    /// <summary>oh{j}[d] = Σ_t p_t · V[t, d] for the head's <paramref name="headDim"/> dimensions, accumulators in registers.</summary>
    private void ValueSum(VectorWidth path, int headDim, long kvDim, int group)
    {
        var w = path.FitTo(headDim);
        if (w.IsScalar)
        {
            for (var j = 0; j < group; j++)
            {
                using (_s.Block($"for (nuint d = 0; d < {I(headDim)}; d++)"))
                {
                    _s.Line("float acc = 0f;");
                    _s.Line($"for (nuint t = 0; t < n; t++) acc += Unsafe.Add(ref sh{j}, t) * Unsafe.Add(ref vh, t * {I(kvDim)} + d);");
                    _s.Line($"Unsafe.Add(ref oh{j}, d) = acc;");
                }
            }
            return;
        }
        var (main, tails) = w.Split(headDim);
        const int chunk = 8; // accumulators per pass over the positions
        var pieces = new List<(string Offset, VectorWidth Width)>();
        var fullChunks = main / chunk;
        if (fullChunks > 0)
        {
            // Long heads (group is 1 then): passes of 8 vectors each.
            using (_s.Block($"for (nuint d0 = 0; d0 < {I((long)fullChunks * chunk * w.Lanes)}; d0 += {I(chunk * w.Lanes)})"))
            {
                ValuePass(Enumerable.Range(0, chunk).Select(v => (v == 0 ? "d0" : $"d0 + {I(v * w.Lanes)}", w)).ToList(), kvDim, "c", group);
            }
        }
        for (var v = fullChunks * chunk; v < main; v++) pieces.Add((I(v * w.Lanes), w));
        foreach (var (offset, tw) in tails) pieces.Add((I(offset), tw));
        if (pieces.Count > 0) ValuePass(pieces, kvDim, "o", group);
    }

    private void ValuePass(List<(string Offset, VectorWidth Width)> pieces, long kvDim, string acc, int group)
    {
        // Few accumulators would make one long FMA chain over the positions: take positions in fours (or twos)
        // into independent accumulators instead, and add them up at the end.
        var chains = pieces.Count * group;
        var unroll = chains >= 4 ? 1 : chains >= 2 ? 2 : 4;
        var widths = pieces.Select(p => p.Width).Distinct().ToList();
        using (_s.Block())
        {
            for (var j = 0; j < group; j++)
                for (var i = 0; i < pieces.Count; i++)
                    for (var u = 0; u < unroll; u++)
                        _s.Line($"var {acc}{j}_{i}_{u} = {pieces[i].Width.Zero};");
            _s.Line("nuint tv = 0;");
            void Body(int count)
            {
                for (var u = 0; u < count; u++)
                {
                    var t = u == 0 ? "tv" : $"tv + {u}";
                    _s.Line($"ref float vt{u} = ref Unsafe.Add(ref vh, {(u == 0 ? t : $"({t})")} * {I(kvDim)});");
                    for (var j = 0; j < group; j++)
                    {
                        _s.Line($"float p{j}_{u} = Unsafe.Add(ref sh{j}, {t});");
                        foreach (var width in widths)
                            if (!width.IsScalar) _s.Line($"var p{j}_{u}w{width.Lanes} = {width.Broadcast($"p{j}_{u}")};");
                    }
                }
                for (var u = 0; u < count; u++)
                    for (var i = 0; i < pieces.Count; i++)
                    {
                        var (offset, width) = pieces[i];
                        var v = width.Load($"vt{u}", offset);
                        if (group > 1)
                        {
                            _s.Line($"var v{u}_{i} = {v};");
                            v = $"v{u}_{i}";
                        }
                        for (var j = 0; j < group; j++)
                        {
                            var pv = width.IsScalar ? $"p{j}_{u}" : $"p{j}_{u}w{width.Lanes}";
                            _s.Line($"{acc}{j}_{i}_{u} = {width.MulAdd(v, pv, $"{acc}{j}_{i}_{u}")};");
                        }
                    }
            }
            if (unroll > 1)
            {
                using (_s.Block($"for (; tv + {unroll} <= n; tv += {unroll})"))
                {
                    Body(unroll);
                }
            }
            using (_s.Block("for (; tv < n; tv++)"))
            {
                Body(1);
            }
            for (var j = 0; j < group; j++)
                for (var i = 0; i < pieces.Count; i++)
                {
                    var a = $"{acc}{j}_{i}";
                    var sum = unroll switch
                    {
                        1 => $"{a}_0",
                        2 => $"{a}_0 + {a}_1",
                        _ => $"{a}_0 + {a}_1 + ({a}_2 + {a}_3)",
                    };
                    _s.Line(pieces[i].Width.Store(sum, $"oh{j}", pieces[i].Offset));
                }
        }
    }
}
