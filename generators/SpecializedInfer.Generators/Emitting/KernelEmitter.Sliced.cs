using System.Linq;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

// The batched Vector512 product past OctetMaxCols columns (the down projection: 2048 at the stories110M shape) in
// column slices. A whole block of rows there (8 rows × 8 KiB) does not stay in L1 beside the positions' x, so every
// weight vector came from L2 for every group of positions. A slice of the block's rows (8 × 2 KiB) does stay while all
// the positions pass; each (row, position)'s two chains wait in a buffer between slices and go on where they stopped:
// the same fused multiply-adds in the same order as the single kernel's, so the outputs keep its bits. Each slice is
// first copied to a buffer on a cache line, its rows side by side: GGUF aligns tensors to 32 bytes only, so a row read
// where it is mapped can start mid-line, and then every Vector512 load of it (each repeated for every group of positions)
// touches two lines; and rows a power of two apart in W fall in the same L1 sets as each other and as x.

public sealed partial class KernelEmitter
{
    /// <summary>Columns of one slice of a block of 8 rows: 8 × 2 KiB of weights stay in L1 while the positions pass.</summary>
    public const int SliceCols = 512;

    /// <summary>
    /// Rows 0..<paramref name="to"/>−1 of a batched Vector512 kernel wider than <see cref="OctetMaxCols"/>, in blocks of 8
    /// rows: for each slice of <see cref="SliceCols"/> columns, every (row, position)'s even-vector chain a and odd-vector
    /// chain b go on from where the previous slice left them (<see cref="OctetPositionGroup"/> positions at a time, then
    /// one at a time); after the last slice each position folds a + b, adds its tails and sums every 4 rows (Sum4) as the
    /// single kernel does its blocks of 4: bit-identical to <c>MatVec</c> per position.
    /// </summary>
    private void SlicedBlocks(RowPlan p, int to)
    {
        if (to <= 0) return;
        var w = p.W;
        var L = w.Lanes;
        var perPosition = 8 * 2 * L; // 8 rows × chains a and b
        var whole = p.Main * L;      // the whole vectors' columns; the tails come after
        _s.Line($"// The chains a and b of every (position, row) of a block of 8 rows, kept between its slices of {SliceCols} columns.");
        _s.Line($"Span<float> chains = stackalloc float[{I(MaxBatch * perPosition)}];");
        _s.Line("ref float cr = ref MemoryMarshal.GetReference(chains);");
        _s.Line($"// The current slice of the block's 8 rows, packed: row j at ws[j·{SliceCols}], ws on a 64-byte boundary.");
        _s.Line($"Span<float> packed = stackalloc float[{I(8 * SliceCols)} + {CacheLine}.Slack];");
        _s.Line($"ref float ws = ref {CacheLine}.Align(packed, {I(8 * SliceCols)});");
        using (_s.Block($"for (nuint r = lo; r < {Upper(to, p.Shape.Rows)}; r += 8)"))
        {
            BlockStart(p, 8);
            _s.Line($"chains.Slice(0, count * {perPosition}).Clear(); // every chain starts at zero, as the single kernel's");
            _s.Line($"// Slices of the {p.Main} whole vectors of each row: 8 rows × {SliceCols} columns stay in L1 while all positions pass.");
            using (_s.Block($"for (nuint s = 0; s < {I(whole)}; s += {SliceCols})"))
            {
                _s.Line($"nuint end = Math.Min(s + {SliceCols}, {I(whole)}); // the slice's columns s..end−1 (an odd last vector belongs to chain a)");
                PackSlice(p);
                _s.Line("nuint p = 0;");
                SliceGroups(p, OctetPositionGroup);
                SliceGroups(p, 1);
            }
            SlicedSums(p);
        }
    }

    /// <summary>
    /// Copies columns s..end−1 of the block's 8 rows to the packed buffer ws (row j at j·<see cref="SliceCols"/>): read
    /// from W once per slice, then from L1 by every group of positions, each vector load on one cache line.
    /// </summary>
    private void PackSlice(RowPlan p)
    {
        var w = p.W;
        _s.Line($"// Rows r..r+7 < {p.Shape.Rows}, columns s..end−1 < {p.Shape.Cols}: inside W; end − s ≤ {SliceCols} floats fit a packed row.");
        using (_s.Block("for (nuint j = 0; j < 8; j++)"))
        using (_s.Block($"for (nuint i = 0; i < end - s; i += {I(w.Lanes)})"))
            _s.Line(w.Store(w.Load("w0", $"j * {I(p.Shape.Stride)} + s + i"), "ws", $"j * {I(SliceCols)} + i"));
    }

    /// <summary>
    /// One slice for <paramref name="group"/> positions at a time: chain a (even vectors), then chain b (odd vectors), each
    /// loaded from the buffer, run over the slice (each weight vector loaded once for the group, each x vector once for the 8
    /// rows) and stored back.
    /// </summary>
    private void SliceGroups(RowPlan p, int group)
    {
        var w = p.W;
        var L = w.Lanes;
        var groups = Enumerable.Range(0, group).ToList();
        _s.Line(group == 1
            ? "// The positions left one at a time."
            : $"// {group} positions at a time: 8 rows × {group} positions = {8 * group} accumulators per chain.");
        using (_s.Block($"for (; p + {group} <= n; p += {group})"))
        {
            foreach (var g in groups)
            {
                var at = g == 0 ? "p" : $"(p + {g})";
                _s.Line($"ref float xr_{g} = ref Unsafe.Add(ref xbase, {at} * {I(p.Shape.Cols)} + s);");
                _s.Line($"ref float cr_{g} = ref Unsafe.Add(ref cr, {at} * {I(8 * 2 * L)});");
            }
            foreach (var (chain, first) in new[] { ("a", "0"), ("b", I(L)) })
                using (_s.Block())
                {
                    _s.Line($"// Chain {chain}: the {(chain == "a" ? "even" : "odd")} vectors of the slice.");
                    string Held(int j) => I((long)(2 * j + (chain == "a" ? 0 : 1)) * L);
                    for (var j = 0; j < 8; j++)
                        _s.Line(string.Join(" ", groups.Select(g => $"var e{j}_{g} = {w.Load($"cr_{g}", Held(j))};")));
                    using (_s.Block($"for (nuint c = {first}; c < end - s; c += {I(2 * L)})"))
                        GroupChainStep(p, 8, group, "e", "c", weights: "ws", rowStride: SliceCols);
                    for (var j = 0; j < 8; j++)
                        _s.Line(string.Join(" ", groups.Select(g => $"e{j}_{g}.StoreUnsafe(ref cr_{g}, {Held(j)});")));
                }
        }
    }

    /// <summary>After the last slice, each position's rows: a + b folded with the tails and summed per 4 rows, one store per 4 rows.</summary>
    private void SlicedSums(RowPlan p)
    {
        var w = p.W;
        var L = w.Lanes;
        _s.Line("// Each position's 8 rows: a + b, folded with the tails and summed per 4 rows as the single kernel's blocks of 4.");
        WeightTails(p, 8);
        using (_s.Block("for (nuint p = 0; p < n; p++)"))
        {
            _s.Line($"ref float xr = ref Unsafe.Add(ref xbase, p * {I(p.Shape.Cols)});");
            _s.Line($"ref float yr = ref Unsafe.Add(ref ybase, p * {I(p.Shape.Rows)});");
            _s.Line($"ref float cp = ref Unsafe.Add(ref cr, p * {I(8 * 2 * L)});");
            for (var j = 0; j < 8; j++)
                _s.Line($"var a{j} = {w.Load("cp", I(2 * j * L))}; var b{j} = {w.Load("cp", I((2 * j + 1) * L))};");
            PositionTails(p, 8, "");
            for (var j = 0; j < 8; j++) _s.Line(FoldRow(p, oneAccumulator: false, VectorWidth.V128, j));
            QuadSums(p, 0, "");
            QuadSums(p, 1, "");
        }
    }
}
