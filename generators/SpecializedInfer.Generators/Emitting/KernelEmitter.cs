using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// Emits the kernels of one engine, each specialized to one exact shape and written four times: a Vector512 path,
/// then Vector256, Vector128 and scalar paths behind <c>IsHardwareAccelerated</c> checks the JIT folds to one.
/// Hot loops address memory through <c>ref float</c> and <c>Unsafe.Add</c>/<c>LoadUnsafe</c> (no bounds checks, no
/// unsafe code in the user's project); each kernel checks its spans' lengths once on entry, which is what makes
/// every access below in range, and says so in a comment.
/// </summary>
public sealed class KernelEmitter
{
    private readonly SourceWriter _s;

    public KernelEmitter(SourceWriter writer) => _s = writer;

    public static string RmsNormName(int n) => $"RmsNorm{n}";
    public static string MatVecName(int rows, int cols, bool add, int stride = 0) =>
        $"{(add ? "MatVecAdd" : "MatVec")}{rows}x{cols}{(stride > cols ? $"Stride{stride}" : "")}";
    public static string RopeName(int heads, int headDim) => $"Rope{heads}x{headDim}";
    public static string StoreKeyName(int kvDim) => $"StoreKey{kvDim}";
    public static string SwiGluName(int n) => $"SwiGlu{n}";
    public const string AttentionName = "Attention";

    private static string I(long v) => Literals.Int(v);

    /// <summary>Floats from one row of the matrix being emitted to the next (its column count, or more when padded).</summary>
    private int _stride;

    /// <summary>
    /// Kernels are compiled fully optimized on first call: an engine is fast from its first token instead of after
    /// tiered compilation catches up (their IsHardwareAccelerated checks still fold to one path).
    /// </summary>
    private const string Hot = "[MethodImpl(MethodImplOptions.AggressiveOptimization)]";

    /// <summary>Matrices at least this large (bytes) are streamed from DRAM rather than read from cache: they get software prefetch.</summary>
    public const long PrefetchMinBytes = 1 << 20;

    /// <summary>How far ahead (floats) streamed weights are prefetched: 16 KiB.</summary>
    public const int PrefetchAhead = 4096;

    /// <summary>Writes the four paths: <c>if (Vector512.IsHardwareAccelerated) {...} else if ... else { scalar }</c>.</summary>
    private void Paths(System.Action<VectorWidth> body)
    {
        for (var i = 0; i < VectorWidth.Vectors.Length; i++)
        {
            var w = VectorWidth.Vectors[i];
            _s.Open($"{(i == 0 ? "if" : "else if")} ({w.Accelerated})");
            body(w);
            _s.Close();
        }
        _s.Open("else");
        body(VectorWidth.Scalar);
        _s.Close();
    }

    /// <summary>
    /// An elementwise pass over <paramref name="n"/> floats: whole vectors (unrolled when few, else a loop with a
    /// constant bound), then exact narrower tails. <paramref name="statement"/> gets the width and the offset.
    /// </summary>
    private void Elementwise(VectorWidth path, int n, System.Func<VectorWidth, string, string> statement)
    {
        var w = path.FitTo(n);
        if (w.IsScalar)
        {
            _s.Open($"for (nuint i = 0; i < {I(n)}; i++)");
            _s.Line(statement(w, "i"));
            _s.Close();
            return;
        }
        var (main, tails) = w.Split(n);
        if (main <= 4)
            for (var v = 0; v < main; v++) _s.Line(statement(w, I(v * w.Lanes)));
        else
        {
            _s.Open($"for (nuint i = 0; i < {I(main * w.Lanes)}; i += {I(w.Lanes)})");
            _s.Line(statement(w, "i"));
            _s.Close();
        }
        foreach (var (offset, tw) in tails) _s.Line(statement(tw, I(offset)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Shared helpers

    public void EmitHelpers()
    {
        _s.Lines(
"""
/// <summary>Adds the two halves of a vector: 16 lanes to 8.</summary>
[MethodImpl(MethodImplOptions.AggressiveInlining)]
private static Vector256<float> Half(Vector512<float> v) => v.GetLower() + v.GetUpper();

/// <summary>Adds the two halves of a vector: 8 lanes to 4.</summary>
[MethodImpl(MethodImplOptions.AggressiveInlining)]
private static Vector128<float> Half(Vector256<float> v) => v.GetLower() + v.GetUpper();

/// <summary>The four horizontal sums of four vectors, as one vector: [Σa, Σb, Σc, Σd] (one store for four matrix rows).</summary>
[MethodImpl(MethodImplOptions.AggressiveInlining)]
private static Vector128<float> Sum4(Vector128<float> a, Vector128<float> b, Vector128<float> c, Vector128<float> d)
{
    if (Sse.IsSupported)
    {
        var ab = Sse.UnpackLow(a, b) + Sse.UnpackHigh(a, b); // [a0+a2, b0+b2, a1+a3, b1+b3]
        var cd = Sse.UnpackLow(c, d) + Sse.UnpackHigh(c, d); // [c0+c2, d0+d2, c1+c3, d1+d3]
        return Sse.MoveLowToHigh(ab, cd) + Sse.MoveHighToLow(cd, ab);
    }
    return Vector128.Create(Vector128.Sum(a), Vector128.Sum(b), Vector128.Sum(c), Vector128.Sum(d));
}

/// <summary>The eight horizontal sums of eight vectors, as one vector: [Σa, Σb, ..., Σh] (one store for eight matrix rows).</summary>
[MethodImpl(MethodImplOptions.AggressiveInlining)]
private static Vector256<float> Sum8(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d,
    Vector256<float> e, Vector256<float> f, Vector256<float> g, Vector256<float> h)
{
    if (Avx.IsSupported)
    {
        var ab = Avx.UnpackLow(a, b) + Avx.UnpackHigh(a, b);   // per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3]
        var cd = Avx.UnpackLow(c, d) + Avx.UnpackHigh(c, d);
        var ef = Avx.UnpackLow(e, f) + Avx.UnpackHigh(e, f);
        var gh = Avx.UnpackLow(g, h) + Avx.UnpackHigh(g, h);
        var abcd = Avx.Shuffle(ab, cd, 0x44) + Avx.Shuffle(ab, cd, 0xEE); // per lane: [Σa, Σb, Σc, Σd] of that lane
        var efgh = Avx.Shuffle(ef, gh, 0x44) + Avx.Shuffle(ef, gh, 0xEE);
        return Avx.Permute2x128(abcd, efgh, 0x20) + Avx.Permute2x128(abcd, efgh, 0x31); // add the two lanes
    }
    return Vector256.Create(Sum4(Half(a), Half(b), Half(c), Half(d)), Sum4(Half(e), Half(f), Half(g), Half(h)));
}

/// <summary>The largest lane.</summary>
[MethodImpl(MethodImplOptions.AggressiveInlining)]
private static float HorizontalMax(Vector512<float> v) => HorizontalMax(Vector256.Max(v.GetLower(), v.GetUpper()));

/// <summary>The largest lane.</summary>
[MethodImpl(MethodImplOptions.AggressiveInlining)]
private static float HorizontalMax(Vector256<float> v) => HorizontalMax(Vector128.Max(v.GetLower(), v.GetUpper()));

/// <summary>The largest lane.</summary>
[MethodImpl(MethodImplOptions.AggressiveInlining)]
private static float HorizontalMax(Vector128<float> v) => MathF.Max(MathF.Max(v.GetElement(0), v.GetElement(1)), MathF.Max(v.GetElement(2), v.GetElement(3)));

[DoesNotReturn]
private static void ThrowShape(string kernel) =>
    throw new ArgumentException($"{kernel}: a buffer is smaller than the engine's fixed shape (or a tensor differs from it).");
""");
    }

    // ---------------------------------------------------------------------------------------------------------
    // RMSNorm

    public void EmitRmsNorm(int n)
    {
        var name = RmsNormName(n);
        _s.Line($"/// <summary>RMSNorm of {n} floats: output = x · (1 / √(Σx² / {n} + ε)) · weight, in the reference's order of operations.</summary>");
        _s.Line(Hot);
        _s.Open($"public static void {name}(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> output)");
        _s.Line($"if (x.Length < {n} || weight.Length < {n} || output.Length < {n}) ThrowShape(nameof({name}));");
        _s.Line($"// In range: every offset below is < {n}, and x, weight and output hold at least {n} floats (checked above).");
        _s.Line("ref float xr = ref MemoryMarshal.GetReference(x);");
        _s.Line("ref float wr = ref MemoryMarshal.GetReference(weight);");
        _s.Line("ref float dr = ref MemoryMarshal.GetReference(output);");
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
                    _s.Open($"for (nuint i = 0; i < {I(pairs * 2 * w.Lanes)}; i += {I(2 * w.Lanes)})");
                    _s.Line($"var u = {w.Load("xr", "i")};");
                    _s.Line($"var v = {w.Load("xr", $"i + {I(w.Lanes)}")};");
                    _s.Line($"acc = {w.MulAdd("u", "u", "acc")};");
                    _s.Line($"acc2 = {w.MulAdd("v", "v", "acc2")};");
                    _s.Close();
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
        _s.Close();
        _s.Line();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Matrix-vector product

    public void EmitMatVec(int rows, int cols, bool add, int stride = 0)
    {
        if (stride < cols) stride = cols;
        _stride = stride;
        var name = MatVecName(rows, cols, add, stride);
        var op = add ? "y += W·x (the residual add fused into the projection: y[r] + dot, as the reference adds)" : "y = W·x";
        _s.Line($"/// <summary>{op} for a {rows}×{cols} row-major W: {rows} dot products of length {cols}.</summary>");
        _s.Line(Hot);
        _s.Open($"public static void {name}(ReadOnlySpan<float> w, ReadOnlySpan<float> x, Span<float> y)");
        _s.Line($"if (w.Length != {I((long)rows * stride)} || x.Length < {cols} || y.Length < {rows}) ThrowShape(nameof({name}));");
        if (stride > cols)
        {
            _s.Line($"// Rows are padded to {stride} floats (the engine's aligned copy of W) so that every row starts on a 64-byte boundary.");
            _s.Line($"// In range: w holds exactly {rows}×{stride} floats (checked above), so row r starts at r·{stride} and every access is");
        }
        else
        {
            _s.Line($"// In range: w holds exactly {rows}×{cols} floats (checked above; the tensor was bound to this shape), so row r starts");
            _s.Line($"// at r·{stride} and every access is");
        }
        _s.Line($"// w[r·{stride} + c] with r < {rows}, c < {cols}; x holds ≥ {cols} floats and y ≥ {rows}.");
        _s.Line("ref float wr = ref MemoryMarshal.GetReference(w);");
        _s.Line("ref float xr = ref MemoryMarshal.GetReference(x);");
        _s.Line("ref float yr = ref MemoryMarshal.GetReference(y);");
        Paths(path => MatVecPath(path, rows, cols, add));
        _s.Close();
        _s.Line();
    }

    private void MatVecPath(VectorWidth path, int rows, int cols, bool add)
    {
        var w = path.FitTo(cols);
        var assign = add ? "+=" : "=";
        if (w.IsScalar)
        {
            _s.Open($"for (nuint r = 0; r < {I(rows)}; r++)");
            _s.Line($"ref float row = ref Unsafe.Add(ref wr, r * {I(_stride)});");
            _s.Line("float sum = 0f;");
            _s.Line($"for (nuint c = 0; c < {I(cols)}; c++) sum += Unsafe.Add(ref row, c) * Unsafe.Add(ref xr, c);");
            _s.Line($"Unsafe.Add(ref yr, r) {assign} sum;");
            _s.Close();
            return;
        }

        var L = w.Lanes;
        var (main, tails) = w.Split(cols);
        var vectorTails = tails.Where(t => !t.Width.IsScalar).ToList();
        var scalarTails = tails.Where(t => t.Width.IsScalar).ToList();
        var resident = main + vectorTails.Count <= w.ResidentLimit;
        var blocked = rows / 4 * 4;
        var prefetch = (long)rows * _stride * 4 >= PrefetchMinBytes;

        if (resident)
        {
            _s.Line($"// x fits in {main + vectorTails.Count} registers: load it once, then stream the rows past it.");
            for (var v = 0; v < main; v++) _s.Line($"var x{v} = {w.Load("xr", I(v * L))};");
        }
        else
            _s.Line($"// x ({cols} floats) is read from L1 in pairs of vectors; two accumulators per row keep the FMAs independent.");
        for (var i = 0; i < vectorTails.Count; i++) _s.Line($"var xt{i} = {vectorTails[i].Width.Load("xr", I(vectorTails[i].Offset))}; // tail at {vectorTails[i].Offset}");
        for (var i = 0; i < scalarTails.Count; i++) _s.Line($"var xs{i} = Unsafe.Add(ref xr, {I(scalarTails[i].Offset)}); // tail at {scalarTails[i].Offset}");

        // Blocks of 8 rows (Vector512 with x in registers: the horizontal sums dominate there, and Sum8 does eight rows
        // for the price of about two Sum4s), then blocks of 4, then single rows.
        var eights = w == VectorWidth.V512 && resident ? rows / 8 * 8 : 0;
        RowBlocks(w, 8, 0, eights, rows, cols, main, vectorTails, scalarTails, resident, prefetch, add);
        RowBlocks(w, 4, eights, blocked, rows, cols, main, vectorTails, scalarTails, resident, prefetch, add);
        if (blocked < rows)
        {
            _s.Open($"for (nuint r = {I(blocked)}; r < {I(rows)}; r++)");
            _s.Line($"ref float w0 = ref Unsafe.Add(ref wr, r * {I(_stride)}); // a last row: r < {rows}");
            Accumulate(w, main, cols, resident, rowsInBlock: 1);
            var terms = new List<string> { w.Sum(main >= 2 ? "a0 + b0" : "a0") };
            for (var i = 0; i < vectorTails.Count; i++) terms.Add(vectorTails[i].Width.Sum($"t{i}_0"));
            for (var i = 0; i < scalarTails.Count; i++) terms.Add($"Unsafe.Add(ref w0, {I(scalarTails[i].Offset)}) * xs{i}");
            _s.Line($"Unsafe.Add(ref yr, r) {assign} {string.Join(" + ", terms)};");
            _s.Close();
        }
    }

    /// <summary>Rows <paramref name="from"/>..<paramref name="to"/> in blocks of <paramref name="size"/> (4 or 8), one store per block.</summary>
    private void RowBlocks(VectorWidth w, int size, int from, int to, int rows, int cols, int main,
        List<(int Offset, VectorWidth Width)> vectorTails, List<(int Offset, VectorWidth Width)> scalarTails, bool resident, bool prefetch, bool add)
    {
        if (to <= from) return;
        var single = size == 8; // one accumulator per row: eight rows are eight independent chains already
        _s.Open($"for (nuint r = {I(from)}; r < {I(to)}; r += {size})");
        _s.Line($"// Rows r..r+{size - 1} (r + {size - 1} < {rows}) start at w0 = &w[r·{_stride}]; row j's element c is w0[j·{_stride} + c].");
        _s.Line($"ref float w0 = ref Unsafe.Add(ref wr, r * {I(_stride)});");
        if (prefetch)
        {
            var aheadRows = size + (PrefetchAhead + _stride - 1) / _stride;
            _s.Line($"// W is streamed from memory: prefetch {PrefetchAhead * 4 / 1024} KiB ahead into L2. Every prefetched index is below");
            _s.Line($"// (r + {aheadRows})·{_stride} ≤ {rows}·{_stride}, or, near the end of W, inside this block (ahead = 0).");
            _s.Line($"nuint ahead = r + {aheadRows} <= {rows} ? (nuint){PrefetchAhead} : 0;");
            if (resident)
                _s.Line($"for (nuint p = 0; p < {I((long)size * _stride)}; p += 16) global::SpecializedInfer.Engine.Prefetch.ToL2(ref Unsafe.Add(ref w0, p + ahead));");
        }
        var target = size == 8 ? VectorWidth.V256 : VectorWidth.V128;
        if (resident)
        {
            // Row by row, each folded to one narrower vector at once: only those stay live beside x, no spills.
            for (var j = 0; j < size; j++)
            {
                Accumulate(w, main, cols, resident, rowsInBlock: 1, single: single, firstRow: j);
                Fold(j);
            }
        }
        else
        {
            Accumulate(w, main, cols, resident, rowsInBlock: size, prefetch, single);
            for (var j = 0; j < size; j++) Fold(j);
        }

        void Fold(int j)
        {
            var e = main >= 2 && !single ? $"a{j} + b{j}" : $"a{j}";
            var cur = w;
            while (cur.Lanes > target.Lanes)
            {
                e = $"Half({e})";
                cur = cur.Narrower;
                for (var i = 0; i < vectorTails.Count; i++)
                    if (vectorTails[i].Width == cur) e += $" + t{i}_{j}";
            }
            for (var i = 0; i < vectorTails.Count; i++)
                if (vectorTails[i].Width.Lanes < target.Lanes) e += $" + t{i}_{j}.ToVector256()"; // zero-extended
            _s.Line($"var q{j} = {e};");
        }

        var api = target.Api;
        _s.Line(size == 8 ? "var sums = Sum8(q0, q1, q2, q3, q4, q5, q6, q7);" : "var sums = Sum4(q0, q1, q2, q3);");
        if (scalarTails.Count > 0)
        {
            var rowSums = Enumerable.Range(0, size).Select(j =>
                string.Join(" + ", scalarTails.Select((t, i) => $"Unsafe.Add(ref w0, {I(j * (long)_stride + t.Offset)}) * xs{i}")));
            _s.Line($"sums += {api}.Create({string.Join(", ", rowSums)});");
        }
        _s.Line(add ? $"({api}.LoadUnsafe(ref yr, r) + sums).StoreUnsafe(ref yr, r);" : "sums.StoreUnsafe(ref yr, r);");
        _s.Close();
    }

    /// <summary>Per row j of the block: accumulators a{j} (and b{j} when there are two or more vectors) over the whole vectors, t{i}_{j} for the tails.</summary>
    private void Accumulate(VectorWidth w, int main, int cols, bool resident, int rowsInBlock, bool prefetch = false, bool single = false, int firstRow = 0)
    {
        var rowsHere = Enumerable.Range(firstRow, rowsInBlock).ToList();
        var L = w.Lanes;
        var (_, tails) = w.Split(cols);
        var vectorTails = tails.Where(t => !t.Width.IsScalar).ToList();
        string Offset(long rowOffset, string c) => rowOffset == 0 ? c : c == "0" ? I(rowOffset) : $"{c} + {I(rowOffset)}";

        if (resident)
        {
            foreach (var j in rowsHere)
            {
                long ro = (long)j * _stride;
                _s.Line($"var a{j} = {w.Load("w0", I(ro))} * x0;");
                if (main >= 2 && !single) _s.Line($"var b{j} = {w.Load("w0", I(ro + L))} * x1;");
                for (var v = single ? 1 : 2; v < main; v++)
                {
                    var acc = (v % 2 == 0 || single ? "a" : "b") + j;
                    _s.Line($"{acc} = {w.MulAdd(w.Load("w0", I(ro + (long)v * L)), $"x{v}", acc)};");
                }
            }
        }
        else
        {
            foreach (var j in rowsHere)
            {
                _s.Line($"var a{j} = {w.Zero};");
                _s.Line($"var b{j} = {w.Zero};");
            }
            var pairs = main / 2;
            _s.Open($"for (nuint c = 0; c < {I((long)pairs * 2 * L)}; c += {I(2 * L)})");
            _s.Line($"var xa = {w.Load("xr", "c")};");
            _s.Line($"var xb = {w.Load("xr", $"c + {I(L)}")};");
            if (prefetch)
                foreach (var j in rowsHere)
                    for (var o = 0; o < 2 * L; o += 16)
                        _s.Line($"global::SpecializedInfer.Engine.Prefetch.ToL2(ref Unsafe.Add(ref w0, {Offset((long)j * _stride + o, "c")} + ahead));");
            foreach (var j in rowsHere)
            {
                long ro = (long)j * _stride;
                _s.Line($"a{j} = {w.MulAdd(w.Load("w0", Offset(ro, "c")), "xa", $"a{j}")};");
                _s.Line($"b{j} = {w.MulAdd(w.Load("w0", $"c + {I(ro + L)}"), "xb", $"b{j}")};");
            }
            _s.Close();
            if (main % 2 == 1)
            {
                long last = (long)pairs * 2 * L;
                _s.Line($"var xl = {w.Load("xr", I(last))};");
                foreach (var j in rowsHere)
                    _s.Line($"a{j} = {w.MulAdd(w.Load("w0", I((long)j * _stride + last)), "xl", $"a{j}")};");
            }
        }
        for (var i = 0; i < vectorTails.Count; i++)
            foreach (var j in rowsHere)
                _s.Line($"var t{i}_{j} = {vectorTails[i].Width.Load("w0", I((long)j * _stride + vectorTails[i].Offset))} * xt{i};");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Matrix times several vectors (batched positions)

    /// <summary>Positions one batched kernel call takes at most (a prompt chunk, or the confirmed token plus 15 drafts).</summary>
    public const int MaxBatch = 16;

    public static string MatMatName(int rows, int cols, bool add, int stride = 0) =>
        $"{(add ? "MatMatAdd" : "MatMat")}{rows}x{cols}{(stride > cols ? $"Stride{stride}" : "")}";

    /// <summary>
    /// The batched twin of <see cref="EmitMatVec"/>: the same row blocks, and inside each block the very statements
    /// the single-vector kernel runs, once per position. Every (row, position) dot product therefore accumulates in
    /// the single kernel's order and rounds to the same bits, while the block's weights come from memory once per
    /// chunk and from L1 for the other positions.
    /// </summary>
    public void EmitMatMat(int rows, int cols, bool add, int stride = 0)
    {
        if (stride < cols) stride = cols;
        _stride = stride;
        var name = MatMatName(rows, cols, add, stride);
        _s.Line($"/// <summary>{(add ? "y[p] += W·x[p]" : "y[p] = W·x[p]")} for count ≤ {MaxBatch} positions p (x rows of {cols}, y rows of {rows}), a {rows}×{cols} row-major W;");
        _s.Line($"/// bit-identical, position by position, to {MatVecName(rows, cols, add, stride)}.</summary>");
        _s.Line(Hot);
        _s.Open($"public static void {name}(ReadOnlySpan<float> w, ReadOnlySpan<float> x, Span<float> y, int count)");
        _s.Line($"if (w.Length != {I((long)rows * stride)} || (uint)(count - 1) >= {MaxBatch}u || x.Length < (long)count * {cols} || y.Length < (long)count * {rows}) ThrowShape(nameof({name}));");
        _s.Line($"// In range: as in {MatVecName(rows, cols, add, stride)} for each position p < count, whose x row starts at p·{cols} (< x.Length)");
        _s.Line($"// and y row at p·{rows} (< y.Length), both checked above.");
        _s.Line("ref float wr = ref MemoryMarshal.GetReference(w);");
        _s.Line("ref float xbase = ref MemoryMarshal.GetReference(x);");
        _s.Line("ref float ybase = ref MemoryMarshal.GetReference(y);");
        _s.Line("nuint n = (nuint)count;");
        Paths(path => MatMatPath(path, rows, cols, add));
        _s.Close();
        _s.Line();
    }

    private void MatMatPath(VectorWidth path, int rows, int cols, bool add)
    {
        var w = path.FitTo(cols);
        var assign = add ? "+=" : "=";
        if (w.IsScalar)
        {
            _s.Open($"for (nuint r = 0; r < {I(rows)}; r++)");
            _s.Line($"ref float row = ref Unsafe.Add(ref wr, r * {I(_stride)});");
            _s.Open("for (nuint p = 0; p < n; p++)");
            _s.Line($"ref float xr = ref Unsafe.Add(ref xbase, p * {I(cols)});");
            _s.Line("float sum = 0f;");
            _s.Line($"for (nuint c = 0; c < {I(cols)}; c++) sum += Unsafe.Add(ref row, c) * Unsafe.Add(ref xr, c);");
            _s.Line($"Unsafe.Add(ref ybase, p * {I(rows)} + r) {assign} sum;");
            _s.Close();
            _s.Close();
            return;
        }

        var (main, tails) = w.Split(cols);
        var vectorTails = tails.Where(t => !t.Width.IsScalar).ToList();
        var scalarTails = tails.Where(t => t.Width.IsScalar).ToList();
        var resident = main + vectorTails.Count <= w.ResidentLimit;
        var blocked = rows / 4 * 4;
        var prefetch = (long)rows * _stride * 4 >= PrefetchMinBytes;
        var eights = w == VectorWidth.V512 && resident ? rows / 8 * 8 : 0;
        var shape = new BatchShape(w, rows, cols, main, vectorTails, scalarTails, resident, add);
        BatchedRowBlocks(shape, 8, 0, eights, prefetch);
        BatchedRowBlocks(shape, 4, eights, blocked, prefetch);
        if (blocked < rows)
        {
            _s.Open($"for (nuint r = {I(blocked)}; r < {I(rows)}; r++)");
            _s.Line($"ref float w0 = ref Unsafe.Add(ref wr, r * {I(_stride)}); // a last row: r < {rows}");
            _s.Open("for (nuint p = 0; p < n; p++)");
            PositionInputs(shape);
            Accumulate(w, main, cols, resident, rowsInBlock: 1);
            var terms = new List<string> { w.Sum(main >= 2 ? "a0 + b0" : "a0") };
            for (var i = 0; i < vectorTails.Count; i++) terms.Add(vectorTails[i].Width.Sum($"t{i}_0"));
            for (var i = 0; i < scalarTails.Count; i++) terms.Add($"Unsafe.Add(ref w0, {I(scalarTails[i].Offset)}) * xs{i}");
            _s.Line($"Unsafe.Add(ref yr, r) {assign} {string.Join(" + ", terms)};");
            _s.Close();
            _s.Close();
        }
    }

    private sealed record BatchShape(VectorWidth W, int Rows, int Cols, int Main,
        List<(int Offset, VectorWidth Width)> VectorTails, List<(int Offset, VectorWidth Width)> ScalarTails, bool Resident, bool Add);

    /// <summary>Position p's x and y rows, and the registers the single kernel loads from x before its rows.</summary>
    private void PositionInputs(BatchShape b)
    {
        _s.Line($"ref float xr = ref Unsafe.Add(ref xbase, p * {I(b.Cols)});");
        _s.Line($"ref float yr = ref Unsafe.Add(ref ybase, p * {I(b.Rows)});");
        if (b.Resident)
            for (var v = 0; v < b.Main; v++) _s.Line($"var x{v} = {b.W.Load("xr", I(v * b.W.Lanes))};");
        for (var i = 0; i < b.VectorTails.Count; i++) _s.Line($"var xt{i} = {b.VectorTails[i].Width.Load("xr", I(b.VectorTails[i].Offset))};");
        for (var i = 0; i < b.ScalarTails.Count; i++) _s.Line($"var xs{i} = Unsafe.Add(ref xr, {I(b.ScalarTails[i].Offset)});");
    }

    /// <summary>Rows <paramref name="from"/>..<paramref name="to"/> in blocks of <paramref name="size"/>, each block run for every position.</summary>
    private void BatchedRowBlocks(BatchShape b, int size, int from, int to, bool prefetch)
    {
        if (to <= from) return;
        var w = b.W;
        var single = size == 8;
        _s.Open($"for (nuint r = {I(from)}; r < {I(to)}; r += {size})");
        _s.Line($"ref float w0 = ref Unsafe.Add(ref wr, r * {I(_stride)}); // rows r..r+{size - 1} < {b.Rows}");
        if (prefetch)
        {
            // Once per block, not per position: the later positions find the block in L1.
            var aheadRows = size + (PrefetchAhead + _stride - 1) / _stride;
            _s.Line($"nuint ahead = r + {aheadRows} <= {b.Rows} ? (nuint){PrefetchAhead} : 0; // in range as in the single kernel");
            _s.Line($"for (nuint f = 0; f < {I((long)size * _stride)}; f += 16) global::SpecializedInfer.Engine.Prefetch.ToL2(ref Unsafe.Add(ref w0, f + ahead));");
        }
        _s.Open("for (nuint p = 0; p < n; p++)");
        PositionInputs(b);
        var target = size == 8 ? VectorWidth.V256 : VectorWidth.V128;
        if (b.Resident)
            for (var j = 0; j < size; j++)
            {
                Accumulate(w, b.Main, b.Cols, b.Resident, rowsInBlock: 1, single: single, firstRow: j);
                _s.Line(FoldRow(w, b.Main, single, target, b.VectorTails, j));
            }
        else
        {
            Accumulate(w, b.Main, b.Cols, b.Resident, rowsInBlock: size, prefetch: false, single: single);
            for (var j = 0; j < size; j++) _s.Line(FoldRow(w, b.Main, single, target, b.VectorTails, j));
        }
        var api = target.Api;
        _s.Line(size == 8 ? "var sums = Sum8(q0, q1, q2, q3, q4, q5, q6, q7);" : "var sums = Sum4(q0, q1, q2, q3);");
        if (b.ScalarTails.Count > 0)
        {
            var rowSums = Enumerable.Range(0, size).Select(j =>
                string.Join(" + ", b.ScalarTails.Select((t, i) => $"Unsafe.Add(ref w0, {I(j * (long)_stride + t.Offset)}) * xs{i}")));
            _s.Line($"sums += {api}.Create({string.Join(", ", rowSums)});");
        }
        _s.Line(b.Add ? $"({api}.LoadUnsafe(ref yr, r) + sums).StoreUnsafe(ref yr, r);" : "sums.StoreUnsafe(ref yr, r);");
        _s.Close();
        _s.Close();
    }

    /// <summary>Row j's accumulators folded to the block's store width, term for term as RowBlocks folds them.</summary>
    private static string FoldRow(VectorWidth w, int main, bool single, VectorWidth target, List<(int Offset, VectorWidth Width)> vectorTails, int j)
    {
        var e = main >= 2 && !single ? $"a{j} + b{j}" : $"a{j}";
        var cur = w;
        while (cur.Lanes > target.Lanes)
        {
            e = $"Half({e})";
            cur = cur.Narrower;
            for (var i = 0; i < vectorTails.Count; i++)
                if (vectorTails[i].Width == cur) e += $" + t{i}_{j}";
        }
        for (var i = 0; i < vectorTails.Count; i++)
            if (vectorTails[i].Width.Lanes < target.Lanes) e += $" + t{i}_{j}.ToVector256()";
        return $"var q{j} = {e};";
    }

    // ---------------------------------------------------------------------------------------------------------
    // RoPE

    public void EmitRope(int heads, int headDim, int pairs)
    {
        var name = RopeName(heads, headDim);
        _s.Line($"/// <summary>");
        _s.Line($"/// RoPE on {heads} heads of {headDim} ({pairs} rotated pairs each; ggml's normal mode): (x[2i], x[2i+1]) turn by the");
        _s.Line($"/// position's angle i, exactly as the reference computes it (no FMA, so the bits match).");
        _s.Line($"/// </summary>");
        _s.Line(Hot);
        _s.Open($"public static void {name}(Span<float> v, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)");
        _s.Line($"if (v.Length < {I((long)heads * headDim)} || cos.Length < {pairs} || sin.Length < {pairs}) ThrowShape(nameof({name}));");
        _s.Line($"// In range: head h's pair i is at h·{headDim} + 2i (+1) < {I((long)heads * headDim)} since 2i + 1 < {2 * pairs} ≤ {headDim}; cos and sin hold ≥ {pairs}.");
        _s.Line("ref float vr = ref MemoryMarshal.GetReference(v);");
        _s.Line("ref float cr = ref MemoryMarshal.GetReference(cos);");
        _s.Line("ref float sr = ref MemoryMarshal.GetReference(sin);");
        _s.Open($"for (nuint h = 0; h < {I(heads)}; h++)");
        _s.Line($"ref float head = ref Unsafe.Add(ref vr, h * {I(headDim)});");
        _s.Open($"for (nuint i = 0; i < {I(pairs)}; i++)");
        _s.Line("float x0 = Unsafe.Add(ref head, 2 * i), x1 = Unsafe.Add(ref head, 2 * i + 1);");
        _s.Line("float c = Unsafe.Add(ref cr, i), s = Unsafe.Add(ref sr, i);");
        _s.Line("Unsafe.Add(ref head, 2 * i) = x0 * c - x1 * s;");
        _s.Line("Unsafe.Add(ref head, 2 * i + 1) = x0 * s + x1 * c;");
        _s.Close();
        _s.Close();
        _s.Close();
        _s.Line();
    }

    // ---------------------------------------------------------------------------------------------------------
    // KV cache

    public void EmitStoreKey(int kvDim)
    {
        var name = StoreKeyName(kvDim);
        _s.Line($"/// <summary>Stores one position's key ({kvDim} floats) into a step's transposed key cache: keys[c·capacity + position] = k[c].</summary>");
        _s.Line(Hot);
        _s.Open($"public static void {name}(ReadOnlySpan<float> k, Span<float> keys, int position, int capacity)");
        _s.Line($"if (k.Length < {kvDim} || (uint)position >= (uint)capacity || keys.Length < (long){kvDim} * capacity) ThrowShape(nameof({name}));");
        _s.Line($"// In range: c·capacity + position < {kvDim}·capacity ≤ keys.Length, since c < {kvDim} and position < capacity (checked above).");
        _s.Line("ref float kr = ref MemoryMarshal.GetReference(k);");
        _s.Line("ref float dst = ref Unsafe.Add(ref MemoryMarshal.GetReference(keys), (nuint)position);");
        _s.Line($"for (nuint c = 0; c < {I(kvDim)}; c++) Unsafe.Add(ref dst, c * (nuint)capacity) = Unsafe.Add(ref kr, c);");
        _s.Close();
        _s.Line();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Attention

    public void EmitAttention(int heads, int kvHeads, int headDim)
    {
        var ratio = heads / kvHeads;
        long queryDim = (long)heads * headDim, kvDim = (long)kvHeads * headDim;
        _s.Line("/// <summary>");
        _s.Line($"/// Causal attention of {heads} query heads over {kvHeads} KV heads ({ratio} query heads per KV head) of {headDim}, over positions");
        _s.Line("/// 0..position of one step's cache. Scores run along positions (keys are stored transposed), padded to whole vectors");
        _s.Line("/// with -∞; softmax subtracts each head's maximum before one Exp over all heads; output = Σ p_t · V_t.");
        _s.Line("/// </summary>");
        _s.Line(Hot);
        _s.Open($"public static void {AttentionName}(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, Span<float> scores, Span<float> output, int position, int capacity)");
        _s.Line($"if ((uint)position >= (uint)capacity || (capacity & 15) != 0 || q.Length < {I(queryDim)} || output.Length < {I(queryDim)}");
        _s.Line($"    || keys.Length < (long){I(kvDim)} * capacity || values.Length < (long){I(kvDim)} * (position + 1) || scores.Length < (long){I(heads)} * capacity)");
        _s.Line($"    ThrowShape(nameof({AttentionName}));");
        _s.Line("// In range (all checked above): scores of head h live at h·stride + t with t < stride ≤ capacity; keys of KV head g, dimension d,");
        _s.Line($"// position t at (g·{headDim} + d)·capacity + t < {kvDim}·capacity; values at t·{kvDim} + g·{headDim} + d with t ≤ position.");
        _s.Line("ref float qr = ref MemoryMarshal.GetReference(q);");
        _s.Line("ref float kr = ref MemoryMarshal.GetReference(keys);");
        _s.Line("ref float vr = ref MemoryMarshal.GetReference(values);");
        _s.Line("ref float sr = ref MemoryMarshal.GetReference(scores);");
        _s.Line("ref float dr = ref MemoryMarshal.GetReference(output);");
        _s.Line("nuint n = (nuint)position + 1;");
        _s.Line("nuint cap = (nuint)capacity;");
        Paths(w => AttentionPath(w, heads, ratio, headDim, kvDim));
        _s.Close();
        _s.Line();
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
        _s.Open($"for (nuint h = 0; h < {I(heads)}; h += {group})");
        _s.Line(group == 1
            ? $"ref float kh = ref Unsafe.Add(ref kr, h / {I(ratio)} * {I(headDim)} * cap); // KV head h / {ratio}"
            : $"ref float kh = ref Unsafe.Add(ref kr, h / {I(ratio)} * {I(headDim)} * cap); // KV head h / {ratio}, shared by heads h..h+{group - 1}");
        for (var j = 0; j < group; j++)
        {
            _s.Line($"ref float qh{j} = ref Unsafe.Add(ref qr, {Head(j)} * {I(headDim)});");
            _s.Line($"ref float sh{j} = ref Unsafe.Add(ref sr, {Head(j)} * stride);");
        }
        _s.Open($"for (nuint t = 0; t < stride; t += {L})");
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
            _s.Open($"for (nuint d = 0; d < {quads}; d += 4)");
            string[] accs = { "a", "b", "c", "e" };
            for (var u = 0; u < 4; u++)
            {
                var dd = u == 0 ? "d" : $"d + {u}";
                _s.Line($"{accs[u]} = {w.MulAdd(w.Broadcast($"Unsafe.Add(ref qh0, {dd})"), w.Load("kt", $"({dd}) * cap"), accs[u])};");
            }
            _s.Close();
            for (var d = quads; d < headDim; d++)
                _s.Line($"a = {w.MulAdd(w.Broadcast($"Unsafe.Add(ref qh0, {d})"), w.Load("kt", $"{d} * cap"), "a")};");
            _s.Line(w.Store("(a + b + (c + e)) * AttentionScale", "sh0", "t"));
        }
        _s.Close();
        _s.Close();

        // Softmax, each head: subtract its maximum (padding past position set to -∞), one Exp over all heads, normalize.
        _s.Open($"for (nuint h = 0; h < {I(heads)}; h++)");
        _s.Line("ref float sh = ref Unsafe.Add(ref sr, h * stride);");
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
        _s.Close();
        _s.Line($"var all = MemoryMarshal.CreateSpan(ref sr, (int)({I(heads)} * stride));");
        _s.Line("TensorPrimitives.Exp(all, all);");
        _s.Open($"for (nuint h = 0; h < {I(heads)}; h++)");
        _s.Line("ref float sh = ref Unsafe.Add(ref sr, h * stride);");
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
        _s.Close();

        // The weighted sum of values, heads sharing a KV head together.
        _s.Open($"for (nuint h = 0; h < {I(heads)}; h += {group})");
        _s.Line($"ref float vh = ref Unsafe.Add(ref vr, h / {I(ratio)} * {I(headDim)}); // KV head h / {ratio}; position t's row at t·{kvDim}");
        for (var j = 0; j < group; j++)
        {
            _s.Line($"ref float sh{j} = ref Unsafe.Add(ref sr, {Head(j)} * stride);");
            _s.Line($"ref float oh{j} = ref Unsafe.Add(ref dr, {Head(j)} * {I(headDim)});");
        }
        ValueSum(w, headDim, kvDim, group);
        _s.Close();
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
                _s.Open($"for (nuint d = 0; d < {I(headDim)}; d++)");
                _s.Line("float acc = 0f;");
                _s.Line($"for (nuint t = 0; t < n; t++) acc += Unsafe.Add(ref sh{j}, t) * Unsafe.Add(ref vh, t * {I(kvDim)} + d);");
                _s.Line($"Unsafe.Add(ref oh{j}, d) = acc;");
                _s.Close();
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
            _s.Open($"for (nuint d0 = 0; d0 < {I((long)fullChunks * chunk * w.Lanes)}; d0 += {I(chunk * w.Lanes)})");
            ValuePass(Enumerable.Range(0, chunk).Select(v => (v == 0 ? "d0" : $"d0 + {I(v * w.Lanes)}", w)).ToList(), kvDim, "c", group);
            _s.Close();
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
        _s.OpenBlock();
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
            _s.Open($"for (; tv + {unroll} <= n; tv += {unroll})");
            Body(unroll);
            _s.Close();
        }
        _s.Open("for (; tv < n; tv++)");
        Body(1);
        _s.Close();
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
        _s.Close();
    }

    // ---------------------------------------------------------------------------------------------------------
    // SwiGLU

    public void EmitSwiGlu(int n)
    {
        var name = SwiGluName(n);
        _s.Line($"/// <summary>SwiGLU over {n} floats in the reference's order: up ← up·gate; gate ← σ(gate); gate ← gate·up (= silu(gate)·up).</summary>");
        _s.Line(Hot);
        _s.Open($"public static void {name}(Span<float> gate, Span<float> up)");
        _s.Line($"if (gate.Length < {n} || up.Length < {n}) ThrowShape(nameof({name}));");
        _s.Line($"// In range: offsets < {n}, and gate and up hold at least {n} floats (checked above).");
        _s.Line("ref float gr = ref MemoryMarshal.GetReference(gate);");
        _s.Line("ref float ur = ref MemoryMarshal.GetReference(up);");
        Paths(path => Elementwise(path, n, (w, o) => w.Store($"{w.Load("ur", o)} * {w.Load("gr", o)}", "ur", o)));
        _s.Line($"TensorPrimitives.Sigmoid(gate.Slice(0, {n}), gate.Slice(0, {n}));");
        Paths(path => Elementwise(path, n, (w, o) => w.Store($"{w.Load("gr", o)} * {w.Load("ur", o)}", "gr", o)));
        _s.Close();
        _s.Line();
    }
}
