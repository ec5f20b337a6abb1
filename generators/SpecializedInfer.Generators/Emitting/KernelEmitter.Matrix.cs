using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

// Matrix products: MatVec (y = W·x at one position) and its batched twin MatMat (y[p] = W·x[p] for up to MaxBatch
// positions), written by one row-block writer. Inside each block of rows the batched kernel runs the single one's
// chains for several positions at once (register blocks of rows × positions): every (row, position) dot product
// accumulates in the single kernel's order and rounds to the same bits, while the block's weights come from memory
// once per chunk and from L1 for the other positions.

public sealed partial class KernelEmitter
{
    /// <summary>
    /// Positions one batched kernel call takes at most: a prompt chunk (its activations, 192 KiB of x at 768 columns, sit
    /// in L2 while each block of weight rows, read from memory once per chunk, stays in L1 for all its positions; F32
    /// prompts take the runtime's PromptGemm, whose chunk is the same 64), or a verification (the confirmed token and
    /// up to 15 drafts).
    /// </summary>
    public const int MaxBatch = 64;

    /// <summary>Matrices at least this large (bytes) are streamed from DRAM rather than read from cache: they get software prefetch.</summary>
    public const long PrefetchMinBytes = 1 << 20;

    /// <summary>How far ahead (floats) streamed weights are prefetched: 16 KiB.</summary>
    public const int PrefetchAhead = 4096;

    /// <summary>
    /// The row range check every matrix kernel makes: rows from..to−1 of <paramref name="rows"/>, from a multiple of 16
    /// (a thread's share starts on a tile, so each row falls in the same block of 8 or 4 rows as when one thread does all).
    /// </summary>
    private static string BadRange(int rows) => $"(uint)from > (uint)to || to > {rows} || (from & 15) != 0";

    /// <summary>The rows of the range as the loops' bounds.</summary>
    private const string RangeLocals = "nuint lo = (nuint)from, hi = (nuint)to; // rows lo..hi−1 (a thread's share; all rows with one thread)";

    /// <summary>A loop's first row: the later of the range's start and the block kind's first row.</summary>
    private static string Lower(int first) => first == 0 ? "lo" : $"Math.Max(lo, {I(first)})";

    /// <summary>A loop's end: the earlier of the range's end and the block kind's end.</summary>
    private static string Upper(int end, int rows) => end >= rows ? "hi" : $"Math.Min(hi, {I(end)})";

    /// <summary>One matrix kernel: its shape, and whether it takes one x (MatVec) or count ≤ MaxBatch positions of x (MatMat).</summary>
    private sealed record MatrixKernel(MatrixShape Shape, bool Batched);

    /// <summary>
    /// How one vector path of a matrix kernel covers W: whole vectors of a row and their exact tails, whether x stays
    /// in registers, whether W is streamed (prefetched), and which rows go in blocks of 8 and 4.
    /// </summary>
    private sealed class RowPlan
    {
        public RowPlan(MatrixKernel kernel, VectorWidth w)
        {
            var m = kernel.Shape;
            Kernel = kernel;
            W = w;
            var (main, tails) = w.Split(m.Cols);
            Main = main;
            VectorTails = tails.Where(t => !t.Width.IsScalar).ToList();
            ScalarTails = tails.Where(t => t.Width.IsScalar).ToList();
            Resident = main + VectorTails.Count <= w.ResidentLimit;
            Streamed = m.Length * 4 >= PrefetchMinBytes;
            Blocked = m.Rows / 4 * 4;
            // Blocks of 8 rows (Vector512 with x in registers: the horizontal sums dominate there, and Sum8 does eight
            // rows for the price of about two Sum4s), then blocks of 4, then single rows.
            Eights = w == VectorWidth.V512 && Resident ? m.Rows / 8 * 8 : 0;
        }

        public MatrixKernel Kernel { get; }
        public MatrixShape Shape => Kernel.Shape;
        public VectorWidth W { get; }
        public int Main { get; }
        public List<(int Offset, VectorWidth Width)> VectorTails { get; }
        public List<(int Offset, VectorWidth Width)> ScalarTails { get; }

        /// <summary>x fits in registers: loaded once, the rows streamed past it.</summary>
        public bool Resident { get; }

        /// <summary>W is large enough to come from DRAM: prefetched ahead.</summary>
        public bool Streamed { get; }

        /// <summary>Rows below this go in blocks (of 8 below <see cref="Eights"/>, then of 4); the rest one by one.</summary>
        public int Blocked { get; }

        public int Eights { get; }

        public string Assign => Shape.ResidualAdd ? "+=" : "=";
    }

    /// <summary>y = W·x (or y += W·x) for one position.</summary>
    private void EmitMatVec(MatrixShape m)
    {
        Debug.Assert(m.Rows > 0 && m.Cols > 0 && m.Stride >= m.Cols, "a matrix has rows, columns, and rows at least as long as its columns");
        if (m.ReferenceOrder)
        {
            EmitDotProduct(m, batched: false);
            return;
        }
        var name = m.MatVecName;
        var op = m.ResidualAdd ? "y += W·x (the residual add fused into the projection: y[r] + dot, as the reference adds)" : "y = W·x";
        _s.Line($"/// <summary>{op} for a {m.Rows}×{m.Cols} row-major W: {m.Rows} dot products of length {m.Cols}.</summary>");
        _s.Line(Hot);
        using (_s.Block($"public static void {name}(ReadOnlySpan<float> w, ReadOnlySpan<float> x, Span<float> y, int from, int to)"))
        {
            _s.Line($"if (w.Length != {I(m.Length)} || x.Length < {m.Cols} || y.Length < {m.Rows} || {BadRange(m.Rows)}) ThrowShape(nameof({name}));");
            if (m.Padded)
            {
                _s.Line($"// Rows are padded to {m.Stride} floats (the engine's aligned copy of W) so that every row starts on a 64-byte boundary.");
                _s.Line($"// In range: w holds exactly {m.Rows}×{m.Stride} floats (checked above), so row r starts at r·{m.Stride} and every access is");
            }
            else
            {
                _s.Line($"// In range: w holds exactly {m.Rows}×{m.Cols} floats (checked above; the tensor was bound to this shape), so row r starts");
                _s.Line($"// at r·{m.Stride} and every access is");
            }
            _s.Line($"// w[r·{m.Stride} + c] with r < {m.Rows}, c < {m.Cols}; x holds ≥ {m.Cols} floats and y ≥ {m.Rows}.");
            _s.Line("ref float wr = ref MemoryMarshal.GetReference(w);");
            _s.Line("ref float xr = ref MemoryMarshal.GetReference(x);");
            _s.Line("ref float yr = ref MemoryMarshal.GetReference(y);");
            _s.Line(RangeLocals);
            Paths(path => MatrixPath(new MatrixKernel(m, Batched: false), path));
        }
    }

    /// <summary>The batched twin of <see cref="EmitMatVec"/>: y[p] = W·x[p] for count ≤ MaxBatch positions, bit-identical per position.</summary>
    private void EmitMatMat(MatrixShape m)
    {
        Debug.Assert(m.Rows > 0 && m.Cols > 0 && m.Stride >= m.Cols, "a matrix has rows, columns, and rows at least as long as its columns");
        if (m.ReferenceOrder)
        {
            EmitDotProduct(m, batched: true);
            return;
        }
        var name = m.MatMatName;
        _s.Line($"/// <summary>{(m.ResidualAdd ? "y[p] += W·x[p]" : "y[p] = W·x[p]")} for count ≤ {MaxBatch} positions p (x rows of {m.Cols}, y rows of {m.Rows}), a {m.Rows}×{m.Cols} row-major W;");
        _s.Line($"/// bit-identical, position by position, to {m.MatVecName}.</summary>");
        _s.Line(Hot);
        using (_s.Block($"public static void {name}(ReadOnlySpan<float> w, ReadOnlySpan<float> x, Span<float> y, int count, int from, int to)"))
        {
            _s.Line($"if (w.Length != {I(m.Length)} || (uint)(count - 1) >= {MaxBatch}u || x.Length < (long)count * {m.Cols} || y.Length < (long)count * {m.Rows} || {BadRange(m.Rows)}) ThrowShape(nameof({name}));");
            _s.Line($"// In range: as in {m.MatVecName} for each position p < count, whose x row starts at p·{m.Cols} (< x.Length)");
            _s.Line($"// and y row at p·{m.Rows} (< y.Length), both checked above.");
            _s.Line("ref float wr = ref MemoryMarshal.GetReference(w);");
            _s.Line("ref float xbase = ref MemoryMarshal.GetReference(x);");
            _s.Line("ref float ybase = ref MemoryMarshal.GetReference(y);");
            _s.Line("nuint n = (nuint)count;");
            _s.Line(RangeLocals);
            Paths(path => MatrixPath(new MatrixKernel(m, Batched: true), path));
        }
    }

    /// <summary>
    /// An F32 product row by row with the reference's TensorPrimitives.Dot (and its separate residual add), for engines
    /// that quantize its output next: one position, or each of count positions.
    /// </summary>
    private void EmitDotProduct(MatrixShape m, bool batched)
    {
        Debug.Assert(m.Stride == m.Cols, "reference-order products read the matrix where it is, unpadded");
        var name = batched ? m.MatMatName : m.MatVecName;
        var op = m.ResidualAdd ? "+=" : "=";
        _s.Line($"/// <summary>{(m.ResidualAdd ? "y += W·x" : "y = W·x")}{(batched ? $" for count ≤ {MaxBatch} positions" : "")} for a {m.Rows}×{m.Cols} W, each row by TensorPrimitives.Dot as the reference");
        _s.Line("/// engine computes it: the output is quantized next, so its bits must be the reference's.</summary>");
        _s.Line(Hot);
        if (!batched)
            using (_s.Block($"public static void {name}(ReadOnlySpan<float> w, ReadOnlySpan<float> x, Span<float> y, int from, int to)"))
            {
                _s.Line($"if (w.Length != {I(m.Length)} || x.Length < {m.Cols} || y.Length < {m.Rows} || {BadRange(m.Rows)}) ThrowShape(nameof({name}));");
                _s.Line($"var xs = x.Slice(0, {m.Cols});");
                _s.Line($"for (var r = from; r < to; r++) y[r] {op} TensorPrimitives.Dot(w.Slice(r * {m.Cols}, {m.Cols}), xs);");
            }
        else
            using (_s.Block($"public static void {name}(ReadOnlySpan<float> w, ReadOnlySpan<float> x, Span<float> y, int count, int from, int to)"))
            {
                _s.Line($"if (w.Length != {I(m.Length)} || (uint)(count - 1) >= {MaxBatch}u || x.Length < (long)count * {m.Cols} || y.Length < (long)count * {m.Rows} || {BadRange(m.Rows)}) ThrowShape(nameof({name}));");
                using (_s.Block("for (var p = 0; p < count; p++)"))
                {
                    _s.Line($"var xs = x.Slice(p * {m.Cols}, {m.Cols});");
                    _s.Line($"for (var r = from; r < to; r++) y[p * {m.Rows} + r] {op} TensorPrimitives.Dot(w.Slice(r * {m.Cols}, {m.Cols}), xs);");
                }
            }
    }

    /// <summary>One path of a matrix kernel: blocks of 8 and 4 rows, then the last rows one by one.</summary>
    private void MatrixPath(MatrixKernel kernel, VectorWidth path)
    {
        var w = path.FitTo(kernel.Shape.Cols);
        if (w.IsScalar)
        {
            ScalarRows(kernel);
            return;
        }
        var p = new RowPlan(kernel, w);
        var octets = Octets(p);
        if (octets > 0 && p.Shape.Cols <= OctetMaxCols)
        {
            _s.Line("// A block's even-vector chains (24: 8 rows × 3 positions) wait here while its odd-vector chains run.");
            _s.Line($"Span<float> held = stackalloc float[{I(24 * w.Lanes)}];");
            _s.Line("ref float hr = ref MemoryMarshal.GetReference(held);");
        }
        if (!kernel.Batched)
        {
            _s.Line(p.Resident
                ? $"// x fits in {p.Main + p.VectorTails.Count} registers: load it once, then stream the rows past it."
                : $"// x ({p.Shape.Cols} floats) is read from L1 in pairs of vectors; two accumulators per row keep the FMAs independent.");
            XRegisters(p, tailComments: true);
        }
        if (p.Shape.Cols <= OctetMaxCols) OctetBlocks(p, octets);
        else SlicedBlocks(p, octets);
        RowBlocks(p, 8, 0, p.Eights);
        RowBlocks(p, 4, System.Math.Max(p.Eights, octets), p.Blocked);
        LastRows(p);
    }

    /// <summary>The scalar path: one dot product per row (per position).</summary>
    private void ScalarRows(MatrixKernel kernel)
    {
        var m = kernel.Shape;
        var assign = m.ResidualAdd ? "+=" : "=";
        using (_s.Block("for (nuint r = lo; r < hi; r++)"))
        {
            _s.Line($"ref float row = ref Unsafe.Add(ref wr, r * {I(m.Stride)});");
            using (kernel.Batched ? _s.Block("for (nuint p = 0; p < n; p++)") : default)
            {
                if (kernel.Batched) _s.Line($"ref float xr = ref Unsafe.Add(ref xbase, p * {I(m.Cols)});");
                _s.Line("float sum = 0f;");
                _s.Line($"for (nuint c = 0; c < {I(m.Cols)}; c++) sum += Unsafe.Add(ref row, c) * Unsafe.Add(ref xr, c);");
                _s.Line(kernel.Batched ? $"Unsafe.Add(ref ybase, p * {I(m.Rows)} + r) {assign} sum;" : $"Unsafe.Add(ref yr, r) {assign} sum;");
            }
        }
    }

    /// <summary>The registers loaded from x before the rows: its whole vectors when they stay resident, and its tails.</summary>
    private void XRegisters(RowPlan p, bool tailComments)
    {
        var w = p.W;
        if (p.Resident)
            for (var v = 0; v < p.Main; v++) _s.Line($"var x{v} = {w.Load("xr", I(v * w.Lanes))};");
        for (var i = 0; i < p.VectorTails.Count; i++)
            _s.Line($"var xt{i} = {p.VectorTails[i].Width.Load("xr", I(p.VectorTails[i].Offset))};" + (tailComments ? $" // tail at {p.VectorTails[i].Offset}" : ""));
        for (var i = 0; i < p.ScalarTails.Count; i++)
            _s.Line($"var xs{i} = Unsafe.Add(ref xr, {I(p.ScalarTails[i].Offset)});" + (tailComments ? $" // tail at {p.ScalarTails[i].Offset}" : ""));
    }

    /// <summary>
    /// The batched kernel's loop over positions inside a block of rows: position p's x and y rows, and the registers
    /// the single kernel loads from x before its rows. The single kernel has one position: no loop.
    /// </summary>
    private SourceWriter.Scope Positions(RowPlan p, string from = "0")
    {
        if (!p.Kernel.Batched) return default;
        var scope = _s.Block(from == "0" ? "for (nuint p = 0; p < n; p++)" : $"for (; {from} < n; {from}++)");
        _s.Line($"ref float xr = ref Unsafe.Add(ref xbase, p * {I(p.Shape.Cols)});");
        _s.Line($"ref float yr = ref Unsafe.Add(ref ybase, p * {I(p.Shape.Rows)});");
        XRegisters(p, tailComments: false);
        return scope;
    }

    /// <summary>Rows <paramref name="from"/>..<paramref name="to"/> in blocks of <paramref name="size"/> (4 or 8), one store per block (and position).</summary>
    private void RowBlocks(RowPlan p, int size, int from, int to)
    {
        Debug.Assert(size is 4 or 8 && from % size == 0 && (to - from) % size == 0, "whole blocks of 4 or 8 rows");
        if (to <= from) return;
        var oneAccumulator = size == 8; // one accumulator per row: eight rows are eight independent chains already
        var target = size == 8 ? VectorWidth.V256 : VectorWidth.V128;
        using (_s.Block($"for (nuint r = {Lower(from)}; r < {Upper(to, p.Shape.Rows)}; r += {size})"))
        {
            BlockStart(p, size);
            // (On Vector512 only the rows past the last block of 8 come here: two positions at a time.)
            var paired = PairsPositions(p, size);
            if (paired) PositionPairs(p, size, target, declared: false);
            using (Positions(p, from: paired ? "p" : "0"))
            {
                if (p.Resident)
                {
                    // Row by row, each folded to one narrower vector at once: only those stay live beside x, no spills.
                    for (var j = 0; j < size; j++)
                    {
                        Accumulate(p, firstRow: j, rowsInBlock: 1, oneAccumulator, prefetch: false);
                        _s.Line(FoldRow(p, oneAccumulator, target, j));
                    }
                }
                else
                {
                    // Column by column for the whole block; the single kernel prefetches here, the batched one per block.
                    Accumulate(p, firstRow: 0, rowsInBlock: size, oneAccumulator, prefetch: p.Streamed && !p.Kernel.Batched);
                    for (var j = 0; j < size; j++) _s.Line(FoldRow(p, oneAccumulator, target, j));
                }
                BlockSums(p, size, target, "");
            }
        }
    }

    /// <summary>The block's row sums for one position (variables named with <paramref name="suffix"/>): Sum4/Sum8 of the folded rows, scalar tails, one store.</summary>
    private void BlockSums(RowPlan p, int size, VectorWidth target, string suffix)
    {
        var api = target.Api;
        var qs = string.Join(", ", Enumerable.Range(0, size).Select(j => $"q{j}{suffix}"));
        _s.Line(size == 8 ? $"var sums{suffix} = Sum8({qs});" : $"var sums{suffix} = Sum4({qs});");
        if (p.ScalarTails.Count > 0)
        {
            var rowSums = Enumerable.Range(0, size).Select(j =>
                string.Join(" + ", p.ScalarTails.Select((t, i) => $"Unsafe.Add(ref w0, {I(j * (long)p.Shape.Stride + t.Offset)}) * xs{i}{suffix}")));
            _s.Line($"sums{suffix} += {api}.Create({string.Join(", ", rowSums)});");
        }
        _s.Line(p.Shape.ResidualAdd ? $"({api}.LoadUnsafe(ref yr{suffix}, r) + sums{suffix}).StoreUnsafe(ref yr{suffix}, r);" : $"sums{suffix}.StoreUnsafe(ref yr{suffix}, r);");
    }

    /// <summary>
    /// Whether a batched block of rows takes its positions two at a time (register blocking): blocks of 4 rows whose
    /// x is read from L1 (not resident), with at least two whole vectors per row, on the Vector512 and Vector256 paths
    /// (the Vector128 path, which no x86-64-v3 machine takes, keeps the plain loop: less code to compile).
    /// </summary>
    private static bool PairsPositions(RowPlan p, int size) =>
        p.Kernel.Batched && !p.Resident && size == 4 && p.Main >= 2 && p.W.Lanes >= VectorWidth.V256.Lanes;

    /// <summary>Positions a Vector512 block of 8 rows takes at once: 8 × 3 = 24 accumulators beside 3 vectors of x and one weight vector.</summary>
    public const int OctetPositionGroup = 3;

    /// <summary>
    /// Columns up to which batched Vector512 products take 8 rows at a time: the 8 rows (32 KiB at 1024 columns) stay in
    /// L1 while the positions pass, and each x vector, which comes from L2, feeds 8 rows instead of 4.
    /// </summary>
    public const int OctetMaxCols = 1024;

    /// <summary>
    /// Whether a batched kernel takes its rows 8 at a time and its positions <see cref="OctetPositionGroup"/> at a time:
    /// where <see cref="PairsPositions"/> would pair them, on the Vector512 path only (32 registers; the narrower paths
    /// keep the pairs).
    /// </summary>
    private static bool GroupsPositions(RowPlan p, int size) => PairsPositions(p, size) && p.W == VectorWidth.V512;

    /// <summary>
    /// The rows a batched Vector512 kernel takes in blocks of 8 (each two of the single kernel's blocks of 4): whole rows
    /// up to <see cref="OctetMaxCols"/> columns (<see cref="OctetBlocks"/>), slices of them past it (<see cref="SlicedBlocks"/>).
    /// </summary>
    private static int Octets(RowPlan p) => GroupsPositions(p, 4) ? p.Shape.Rows / 8 * 8 : 0;

    /// <summary>
    /// Rows 0..<paramref name="to"/>−1 of a batched Vector512 kernel in blocks of 8: <see cref="OctetPositionGroup"/>
    /// positions at a time, then one at a time. Each block is two of the single kernel's blocks of 4, folded and summed
    /// (Sum4) as it does them, so the outputs stay bit-identical.
    /// </summary>
    private void OctetBlocks(RowPlan p, int to)
    {
        if (to <= 0) return;
        using (_s.Block($"for (nuint r = lo; r < {Upper(to, p.Shape.Rows)}; r += 8)"))
        {
            BlockStart(p, 8);
            PositionGroups(p, 8, OctetPositionGroup, declared: false);
            PositionGroups(p, 8, 1, declared: true);
        }
    }

    /// <summary>
    /// Register blocking for the batched kernel on Vector512: a block of <paramref name="rows"/> rows (8) against
    /// <paramref name="group"/> positions. The single kernel keeps two independent chains per row — a over the even
    /// vectors (and an odd last one), b over the odd ones — and only adds them at the end, so the two chains can run one
    /// after the other: first every (row, position)'s a (up to 24 accumulators; each weight vector loaded once for all
    /// positions, each x vector once for all rows: 11 loads per 24 FMAs at 8 × 3), held on the stack,
    /// then every b, then each position folds and sums a + b per block of 4 rows exactly as the single kernel does:
    /// bit-identical to <c>MatVec</c> per position. Leaves <c>p</c> at the first position left (fewer than a group).
    /// </summary>
    private void PositionGroups(RowPlan p, int rows, int group, bool declared)
    {
        Debug.Assert(rows is 4 or 8 && rows * group <= 24, "whole blocks of 4 rows, at most 24 accumulators");
        var w = p.W;
        var L = w.Lanes;
        long stride = p.Shape.Stride;
        var cols = p.Shape.Cols;
        var groups = Enumerable.Range(0, group).ToList();
        var pairs = p.Main / 2;
        string Held(int j, int g) => I((long)(j * group + g) * L);
        if (!declared) _s.Line("nuint p = 0;");
        _s.Line(group == 1
            ? "// The positions left one at a time."
            : $"// {group} positions at a time: every weight vector is loaded once for all of them, every x vector once for the {rows} rows.");
        using (_s.Block($"for (; p + {group} <= n; p += {group})"))
        {
            foreach (var g in groups)
            {
                _s.Line($"ref float xr_{g} = ref Unsafe.Add(ref xbase, {(g == 0 ? "p" : $"(p + {g})")} * {I(cols)});");
                _s.Line($"ref float yr_{g} = ref Unsafe.Add(ref ybase, {(g == 0 ? "p" : $"(p + {g})")} * {I(p.Shape.Rows)});");
            }
            _s.Line("// Chain a of every (row, position): the even vectors (then an odd last one), held on the stack.");
            using (_s.Block())
            {
                for (var j = 0; j < rows; j++)
                    _s.Line(string.Join(" ", groups.Select(g => $"var e{j}_{g} = {w.Zero};")));
                using (_s.Block($"for (nuint c = 0; c < {I((long)pairs * 2 * L)}; c += {I(2 * L)})"))
                    GroupChainStep(p, rows, group, "e", "c");
                if (p.Main % 2 == 1)
                    using (_s.Block())
                        GroupChainStep(p, rows, group, "e", I((long)pairs * 2 * L));
                for (var j = 0; j < rows; j++)
                    foreach (var g in groups)
                        _s.Line($"e{j}_{g}.StoreUnsafe(ref hr, {Held(j, g)});");
            }
            _s.Line("// Chain b of every (row, position): the odd vectors.");
            for (var j = 0; j < rows; j++)
                _s.Line(string.Join(" ", groups.Select(g => $"var b{j}_{g} = {w.Zero};")));
            using (_s.Block($"for (nuint c = {I(L)}; c < {I((long)pairs * 2 * L)}; c += {I(2 * L)})"))
                GroupChainStep(p, rows, group, "b", "c");
            WeightTails(p, rows);
            foreach (var g in groups)
            {
                var sfx = "_" + g;
                for (var j = 0; j < rows; j++) _s.Line($"var a{j}{sfx} = {w.Load("hr", Held(j, g))};");
                PositionTails(p, rows, sfx);
                for (var j = 0; j < rows; j++) _s.Line(FoldRow(p, oneAccumulator: false, VectorWidth.V128, j, sfx));
                for (var quad = 0; quad < rows / 4; quad++) QuadSums(p, quad, sfx);
            }
        }
    }

    /// <summary>The vector tails of a block's rows (wt{i}_{j}), loaded once for all the positions that multiply them.</summary>
    private void WeightTails(RowPlan p, int rows)
    {
        for (var i = 0; i < p.VectorTails.Count; i++)
            for (var j = 0; j < rows; j++)
                _s.Line($"var wt{i}_{j} = {p.VectorTails[i].Width.Load("w0", I(j * (long)p.Shape.Stride + p.VectorTails[i].Offset))};");
    }

    /// <summary>
    /// The tails of the position of <paramref name="suffix"/> (x at xr{suffix}): each vector tail's products with the
    /// block's rows (t{i}_{j}, folded in by <see cref="FoldRow"/>), and the scalar tails' x (xs{i}, summed by <see cref="QuadSums"/>).
    /// </summary>
    private void PositionTails(RowPlan p, int rows, string suffix)
    {
        for (var i = 0; i < p.VectorTails.Count; i++)
        {
            _s.Line($"var xt{i}{suffix} = {p.VectorTails[i].Width.Load("xr" + suffix, I(p.VectorTails[i].Offset))};");
            for (var j = 0; j < rows; j++) _s.Line($"var t{i}_{j}{suffix} = wt{i}_{j} * xt{i}{suffix};");
        }
        for (var i = 0; i < p.ScalarTails.Count; i++)
            _s.Line($"var xs{i}{suffix} = Unsafe.Add(ref xr{suffix}, {I(p.ScalarTails[i].Offset)});");
    }

    /// <summary>
    /// One step of chain <paramref name="acc"/> at column <paramref name="c"/> for a block's rows and a group's positions:
    /// the smaller of the two sets of vectors is loaded first and kept, the other loaded one at a time. The rows are
    /// <paramref name="rowStride"/> floats apart from <paramref name="weights"/> (W's own stride unless given: a packed slice's).
    /// </summary>
    private void GroupChainStep(RowPlan p, int rows, int group, string acc, string c, string weights = "w0", long? rowStride = null)
    {
        var w = p.W;
        var stride = rowStride ?? p.Shape.Stride;
        string Fma(int j, int g) => $"{acc}{j}_{g} = {w.MulAdd($"wv{j}", $"xv{g}", $"{acc}{j}_{g}")};";
        string WeightLoad(int j) => $"var wv{j} = {w.Load(weights, j == 0 ? c : $"{c} + {I(j * stride)}")};";
        string XLoad(int g) => $"var xv{g} = {w.Load($"xr_{g}", c)};";
        if (rows <= group)
        {
            for (var j = 0; j < rows; j++) _s.Line(WeightLoad(j));
            for (var g = 0; g < group; g++)
            {
                _s.Line(XLoad(g));
                _s.Line(string.Join(" ", Enumerable.Range(0, rows).Select(j => Fma(j, g))));
            }
        }
        else
        {
            for (var g = 0; g < group; g++) _s.Line(XLoad(g));
            for (var j = 0; j < rows; j++)
            {
                _s.Line(WeightLoad(j));
                _s.Line(string.Join(" ", Enumerable.Range(0, group).Select(g => Fma(j, g))));
            }
        }
    }

    /// <summary>Rows 4·quad..4·quad+3 of a block for the position of <paramref name="suffix"/>: Sum4 of the folded rows, scalar tails, one store (as <see cref="BlockSums"/>).</summary>
    private void QuadSums(RowPlan p, int quad, string suffix)
    {
        var api = VectorWidth.V128.Api;
        var name = $"sums{quad}{suffix}";
        var rowsOfQuad = Enumerable.Range(4 * quad, 4).ToList();
        _s.Line($"var {name} = Sum4({string.Join(", ", rowsOfQuad.Select(j => $"q{j}{suffix}"))});");
        if (p.ScalarTails.Count > 0)
        {
            var rowSums = rowsOfQuad.Select(j =>
                string.Join(" + ", p.ScalarTails.Select((t, i) => $"Unsafe.Add(ref w0, {I(j * (long)p.Shape.Stride + t.Offset)}) * xs{i}{suffix}")));
            _s.Line($"{name} += {api}.Create({string.Join(", ", rowSums)});");
        }
        var at = quad == 0 ? "r" : $"r + {4 * quad}";
        _s.Line(p.Shape.ResidualAdd ? $"({api}.LoadUnsafe(ref yr{suffix}, {at}) + {name}).StoreUnsafe(ref yr{suffix}, {at});" : $"{name}.StoreUnsafe(ref yr{suffix}, {at});");
    }

    /// <summary>
    /// Register blocking for the batched kernel: a block of 4 rows against two positions at once, so each weight vector
    /// loaded feeds both positions from registers (16 accumulators: 4 rows × 2 positions × the single kernel's two
    /// chains). Every (row, position) keeps exactly the single kernel's chains — even vectors into a, odd into b, the
    /// odd last vector into a, the tails apart — and folds and sums them as it does, so each position's outputs are
    /// bit-identical to <c>MatVec</c>'s. Leaves <c>p</c> at the first position left (an odd count's last).
    /// </summary>
    private void PositionPairs(RowPlan p, int size, VectorWidth target, bool declared)
    {
        var w = p.W;
        var L = w.Lanes;
        long stride = p.Shape.Stride;
        var (cols, rows) = (p.Shape.Cols, p.Shape.Rows);
        string[] suffixes = ["", "_1"];
        if (!declared) _s.Line("nuint p = 0;");
        _s.Line("// Two positions at a time: each weight vector is loaded once for both (every row, position keeps the single kernel's chains).");
        using (_s.Block("for (; p + 2 <= n; p += 2)"))
        {
            _s.Line($"ref float xr = ref Unsafe.Add(ref xbase, p * {I(cols)});");
            _s.Line($"ref float xr_1 = ref Unsafe.Add(ref xr, {I(cols)});");
            _s.Line($"ref float yr = ref Unsafe.Add(ref ybase, p * {I(rows)});");
            _s.Line($"ref float yr_1 = ref Unsafe.Add(ref yr, {I(rows)});");
            foreach (var sfx in suffixes)
            {
                for (var i = 0; i < p.VectorTails.Count; i++)
                    _s.Line($"var xt{i}{sfx} = {p.VectorTails[i].Width.Load("xr" + sfx, I(p.VectorTails[i].Offset))};");
                for (var i = 0; i < p.ScalarTails.Count; i++)
                    _s.Line($"var xs{i}{sfx} = Unsafe.Add(ref xr{sfx}, {I(p.ScalarTails[i].Offset)});");
            }
            for (var j = 0; j < size; j++)
                foreach (var sfx in suffixes)
                    _s.Line($"var a{j}{sfx} = {w.Zero}; var b{j}{sfx} = {w.Zero};");
            var pairs = p.Main / 2;
            using (_s.Block($"for (nuint c = 0; c < {I((long)pairs * 2 * L)}; c += {I(2 * L)})"))
            {
                foreach (var sfx in suffixes)
                {
                    _s.Line($"var xa{sfx} = {w.Load("xr" + sfx, "c")};");
                    _s.Line($"var xb{sfx} = {w.Load("xr" + sfx, $"c + {I(L)}")};");
                }
                for (var j = 0; j < size; j++)
                {
                    var ro = j * stride;
                    _s.Line($"var wa{j} = {w.Load("w0", ro == 0 ? "c" : $"c + {I(ro)}")};");
                    _s.Line($"var wb{j} = {w.Load("w0", $"c + {I(ro + L)}")};");
                    foreach (var sfx in suffixes)
                    {
                        _s.Line($"a{j}{sfx} = {w.MulAdd($"wa{j}", "xa" + sfx, $"a{j}{sfx}")};");
                        _s.Line($"b{j}{sfx} = {w.MulAdd($"wb{j}", "xb" + sfx, $"b{j}{sfx}")};");
                    }
                }
            }
            if (p.Main % 2 == 1)
            {
                long last = (long)pairs * 2 * L;
                foreach (var sfx in suffixes) _s.Line($"var xl{sfx} = {w.Load("xr" + sfx, I(last))};");
                for (var j = 0; j < size; j++)
                {
                    _s.Line($"var wl{j} = {w.Load("w0", I(j * stride + last))};");
                    foreach (var sfx in suffixes) _s.Line($"a{j}{sfx} = {w.MulAdd($"wl{j}", "xl" + sfx, $"a{j}{sfx}")};");
                }
            }
            for (var i = 0; i < p.VectorTails.Count; i++)
                for (var j = 0; j < size; j++)
                {
                    _s.Line($"var wt{i}_{j} = {p.VectorTails[i].Width.Load("w0", I(j * stride + p.VectorTails[i].Offset))};");
                    foreach (var sfx in suffixes) _s.Line($"var t{i}_{j}{sfx} = wt{i}_{j} * xt{i}{sfx};");
                }
            foreach (var sfx in suffixes)
            {
                for (var j = 0; j < size; j++) _s.Line(FoldRow(p, oneAccumulator: false, target, j, sfx));
                BlockSums(p, size, target, sfx);
            }
        }
    }

    /// <summary>The block's first row (w0) and, for streamed W, the prefetch distance (and the whole-block prefetch where no column loop does it).</summary>
    private void BlockStart(RowPlan p, int size)
    {
        var (rows, stride) = (p.Shape.Rows, p.Shape.Stride);
        var aheadRows = size + (PrefetchAhead + stride - 1) / stride;
        string WholeBlock(string i) =>
            $"for (nuint {i} = 0; {i} < {I((long)size * stride)}; {i} += 16) {Prefetch}.ToL2(ref Unsafe.Add(ref w0, {i} + ahead));";
        if (p.Kernel.Batched)
        {
            _s.Line($"ref float w0 = ref Unsafe.Add(ref wr, r * {I(stride)}); // rows r..r+{size - 1} < {rows}");
            if (!p.Streamed) return;
            // Once per block, not per position: the later positions find the block in L1.
            _s.Line($"nuint ahead = r + {aheadRows} <= {rows} ? (nuint){PrefetchAhead} : 0; // in range as in the single kernel");
            _s.Line(WholeBlock("f"));
            return;
        }
        _s.Line($"// Rows r..r+{size - 1} (r + {size - 1} < {rows}) start at w0 = &w[r·{stride}]; row j's element c is w0[j·{stride} + c].");
        _s.Line($"ref float w0 = ref Unsafe.Add(ref wr, r * {I(stride)});");
        if (!p.Streamed) return;
        _s.Line($"// W is streamed from memory: prefetch {PrefetchAhead * 4 / 1024} KiB ahead into L2. Every prefetched index is below");
        _s.Line($"// (r + {aheadRows})·{stride} ≤ {rows}·{stride}, or, near the end of W, inside this block (ahead = 0).");
        _s.Line($"nuint ahead = r + {aheadRows} <= {rows} ? (nuint){PrefetchAhead} : 0;");
        if (p.Resident) _s.Line(WholeBlock("p")); // otherwise the column loop prefetches
    }

    /// <summary>The rows after the blocks, one at a time.</summary>
    private void LastRows(RowPlan p)
    {
        var (rows, stride) = (p.Shape.Rows, p.Shape.Stride);
        if (p.Blocked >= rows) return;
        using (_s.Block($"for (nuint r = {Lower(p.Blocked)}; r < hi; r++)"))
        {
            _s.Line($"ref float w0 = ref Unsafe.Add(ref wr, r * {I(stride)}); // a last row: r < {rows}");
            using (Positions(p))
            {
                Accumulate(p, firstRow: 0, rowsInBlock: 1, oneAccumulator: false, prefetch: false);
                var terms = new List<string> { p.W.Sum(p.Main >= 2 ? "a0 + b0" : "a0") };
                for (var i = 0; i < p.VectorTails.Count; i++) terms.Add(p.VectorTails[i].Width.Sum($"t{i}_0"));
                for (var i = 0; i < p.ScalarTails.Count; i++) terms.Add($"Unsafe.Add(ref w0, {I(p.ScalarTails[i].Offset)}) * xs{i}");
                _s.Line($"Unsafe.Add(ref yr, r) {p.Assign} {string.Join(" + ", terms)};");
            }
        }
    }

    /// <summary>
    /// Per row j of rows <paramref name="firstRow"/>.. of the block: accumulators a{j} (and b{j} unless
    /// <paramref name="oneAccumulator"/> or a single vector) over the whole vectors, t{i}_{j} for the vector tails.
    /// </summary>
    private void Accumulate(RowPlan p, int firstRow, int rowsInBlock, bool oneAccumulator, bool prefetch)
    {
        var rowsHere = Enumerable.Range(firstRow, rowsInBlock).ToList();
        var w = p.W;
        var L = w.Lanes;
        var main = p.Main;
        long stride = p.Shape.Stride;
        string Offset(long rowOffset, string c) => rowOffset == 0 ? c : c == "0" ? I(rowOffset) : $"{c} + {I(rowOffset)}";

        if (p.Resident)
        {
            foreach (var j in rowsHere)
            {
                var ro = j * stride;
                _s.Line($"var a{j} = {w.Load("w0", I(ro))} * x0;");
                if (main >= 2 && !oneAccumulator) _s.Line($"var b{j} = {w.Load("w0", I(ro + L))} * x1;");
                for (var v = oneAccumulator ? 1 : 2; v < main; v++)
                {
                    var acc = (v % 2 == 0 || oneAccumulator ? "a" : "b") + j;
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
            using (_s.Block($"for (nuint c = 0; c < {I((long)pairs * 2 * L)}; c += {I(2 * L)})"))
            {
                _s.Line($"var xa = {w.Load("xr", "c")};");
                _s.Line($"var xb = {w.Load("xr", $"c + {I(L)}")};");
                if (prefetch)
                    foreach (var j in rowsHere)
                        for (var o = 0; o < 2 * L; o += 16)
                            _s.Line($"{Prefetch}.ToL2(ref Unsafe.Add(ref w0, {Offset(j * stride + o, "c")} + ahead));");
                foreach (var j in rowsHere)
                {
                    var ro = j * stride;
                    _s.Line($"a{j} = {w.MulAdd(w.Load("w0", Offset(ro, "c")), "xa", $"a{j}")};");
                    _s.Line($"b{j} = {w.MulAdd(w.Load("w0", $"c + {I(ro + L)}"), "xb", $"b{j}")};");
                }
            }
            if (main % 2 == 1)
            {
                long last = (long)pairs * 2 * L;
                _s.Line($"var xl = {w.Load("xr", I(last))};");
                foreach (var j in rowsHere)
                    _s.Line($"a{j} = {w.MulAdd(w.Load("w0", I(j * stride + last)), "xl", $"a{j}")};");
            }
        }
        for (var i = 0; i < p.VectorTails.Count; i++)
            foreach (var j in rowsHere)
                _s.Line($"var t{i}_{j} = {p.VectorTails[i].Width.Load("w0", I(j * stride + p.VectorTails[i].Offset))} * xt{i};");
    }

    /// <summary>Row j's accumulators folded to the block's store width (Half by Half, each tail added at its own width).</summary>
    private static string FoldRow(RowPlan p, bool oneAccumulator, VectorWidth target, int j, string suffix = "")
    {
        var e = p.Main >= 2 && !oneAccumulator ? $"a{j}{suffix} + b{j}{suffix}" : $"a{j}{suffix}";
        var cur = p.W;
        while (cur.Lanes > target.Lanes)
        {
            e = $"Half({e})";
            cur = cur.Narrower;
            for (var i = 0; i < p.VectorTails.Count; i++)
                if (p.VectorTails[i].Width == cur) e += $" + t{i}_{j}{suffix}";
        }
        for (var i = 0; i < p.VectorTails.Count; i++)
            if (p.VectorTails[i].Width.Lanes < target.Lanes) e += $" + t{i}_{j}{suffix}.ToVector256()"; // zero-extended
        return $"var q{j}{suffix} = {e};";
    }
}
