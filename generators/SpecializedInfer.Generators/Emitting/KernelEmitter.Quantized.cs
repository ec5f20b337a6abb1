using System;
using System.Diagnostics;
using System.Linq;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

// Integer products with Q8_0/Q4_0 weights repacked into 16-row tiles (TiledQuantLayout) and an input quantized to
// Q8_0 (QuantizedActivations). The definition every path reproduces is the reference's QuantizedDot: per row, per
// block b in order, the exact integer s_b = Σ w·x, then sum = fma(s_b, d_w·d_x, sum) (Q8_0) or fma(s_b·d_w, d_x, sum)
// (Q4_0). In a tile, vector lane j is row j: one VPDPBUSD adds 4 bytes × 4 bytes for 8 rows at once, the integer sums
// are exact in any grouping, and each lane then runs the row's float chain in block order, so every path (AVX-VNNI,
// AVX2, scalar) gives the reference's bits. Weights are stored unsigned (w + 128, or nibbles w + 8), which VPDPBUSD
// needs; the offset times Σx (kept per block with the quants) starts each block's integer sum. A kernel gets a tile's
// start and finds block b's quants and scales at TileShape.QuantsAt/ScalesAt: pairs of blocks with their scales after
// them, so a product reads one stream front to back.

public sealed partial class KernelEmitter
{
    private const string Inline = "[MethodImpl(MethodImplOptions.AggressiveInlining)]";

    /// <summary>
    /// Positions per load of a tile's weights in the batched AVX-512 kernel: Q4_0 keeps 2 vectors per position (16 of
    /// the 32 registers for 8), Q8_0 3 (its high and low nibbles' sums apart, and the float sum: 12 for 4).
    /// </summary>
    private static int WidePositions(TiledQuantType type) => type == TiledQuantType.Q4_0 ? 8 : 4;

    /// <summary>The vector paths of the integer kernels, in the order they are tried, with the check that selects each.</summary>
    private static readonly (string Path, string Supported)[] IntegerPaths =
    {
        ("Vnni", $"{AvxVnni}.IsSupported"),
        ("Avx2", $"{Avx2}.IsSupported"),
    };

    /// <summary>y = W·x (or y += W·x) for one position.</summary>
    private void EmitQuantizedMatVec(QuantizedMatrixShape m)
    {
        var name = m.MatVecName;
        _s.Line($"/// <summary>{(m.ResidualAdd ? "y += W·x (the residual add fused in: y[r] + dot, as the reference adds)" : "y = W·x")} for a {m.Rows}×{m.Cols} {m.TypeName} W repacked into");
        _s.Line($"/// {m.Tiles} tiles of 16 rows, x quantized to Q8_0: each row's {m.Blocks} blocks multiplied in integers and added in order.</summary>");
        _s.Line(HotUnit);
        using (_s.Block($"public static void {name}(ReadOnlySpan<byte> w, {QuantizedActivations} x, Span<float> y, int from, int to)"))
        {
            _s.Line($"if (w.Length != {I(m.Bytes)} || x.Cols != {m.Cols} || x.Rows < 1 || y.Length < {m.Rows} || {BadRange(m.Rows)}) ThrowShape(nameof({name}));");
            _s.Line($"// In range: w holds the {m.Tiles} tiles ({I(m.Tile.TileBytes)} bytes each, scales beside their quants) and x a row of {m.Cols} quants and");
            _s.Line($"// {m.Blocks} scales and sums (checked above); only rows below {m.Rows} of y are stored.");
            QuantizedReferences(m);
            _s.Line("ref float yr = ref MemoryMarshal.GetReference(y);");
            QuantizedPaths(m, batched: false);
        }
    }

    /// <summary>The batched twin: y[p] = W·x[p] for count ≤ MaxBatch positions, each position's rows as the single kernel computes them.</summary>
    private void EmitQuantizedMatMat(QuantizedMatrixShape m)
    {
        var name = m.MatMatName;
        _s.Line($"/// <summary>{(m.ResidualAdd ? "y[p] += W·x[p]" : "y[p] = W·x[p]")} for count ≤ {MaxBatch} positions p (x rows of {m.Cols}, y rows of {m.Rows}), a {m.Rows}×{m.Cols} {m.TypeName} W");
        _s.Line($"/// in tiles; bit-identical, position by position, to {m.MatVecName}.</summary>");
        _s.Line(HotUnit);
        using (_s.Block($"public static void {name}(ReadOnlySpan<byte> w, {QuantizedActivations} x, Span<float> y, int count, int from, int to)"))
        {
            _s.Line($"if (w.Length != {I(m.Bytes)} || (uint)(count - 1) >= {MaxBatch}u || x.Cols != {m.Cols} || x.Rows < count || y.Length < (long)count * {m.Rows} || {BadRange(m.Rows)}) ThrowShape(nameof({name}));");
            _s.Line($"// In range: as in {m.MatVecName} for each position p < count ≤ x.Rows, whose quants start at p·{m.Cols}, scales and sums at");
            _s.Line($"// p·{m.Blocks}, and y row at p·{m.Rows} (< y.Length), all checked above.");
            QuantizedReferences(m);
            _s.Line("ref float ybase = ref MemoryMarshal.GetReference(y);");
            _s.Line("nuint n = (nuint)count;");
            QuantizedPaths(m, batched: true);
        }
    }

    private void QuantizedReferences(QuantizedMatrixShape m)
    {
        _s.Line("ref byte wq = ref MemoryMarshal.GetReference(w);");
        _s.Line("ref sbyte xq = ref MemoryMarshal.GetArrayDataReference(x.Quants);");
        _s.Line("ref float xd = ref MemoryMarshal.GetArrayDataReference(x.Scales);");
        _s.Line("ref int xs = ref MemoryMarshal.GetArrayDataReference(x.Sums);");
        _s.Line("nuint lo = (nuint)from, hi = (nuint)to; // rows lo..hi−1: whole tiles, and the last partial one only when hi is the last row");
    }

    /// <summary>
    /// The integer paths over whole tiles and the last partial one, then the scalar path row by row. AVX-512 (BW)
    /// comes first for Q4_0, whose nibbles it unpacks for 16 rows at once; for Q8_0 AVX-VNNI does (one VPDPBUSD per 4
    /// bytes of 8 rows, where AVX-512 must split each byte into nibbles), then AVX-512, then AVX2.
    /// </summary>
    private void QuantizedPaths(QuantizedMatrixShape m, bool batched)
    {
        var tile = m.Tile;
        var full = m.Rows / TiledQuantLayout.TileRows;
        var wideFirst = m.Type == TiledQuantType.Q4_0;
        if (wideFirst) WidePath(m, batched, "if");
        for (var i = 0; i < IntegerPaths.Length; i++)
        {
            var (path, supported) = IntegerPaths[i];
            if (i == 1 && !wideFirst) WidePath(m, batched, "else if");
            using (_s.Block($"{(i == 0 && !wideFirst ? "if" : "else if")} ({supported})"))
            {
                if (full > 0)
                    using (_s.Block($"for (nuint t = lo / 16; t < Math.Min(hi / 16, {I(full)}); t++)"))
                    using (batched && path == "Vnni" ? FoursOf(m) : default)
                    using (PositionsOf(m, batched, from: batched && path == "Vnni" ? "p" : "0"))
                    {
                        _s.Line($"{tile.Name(path)}(ref Unsafe.Add(ref wq, t * {I(tile.TileBytes)}), {InputRow(m, batched)}, out var low, out var high);");
                        _s.Line(m.ResidualAdd ? "(Vector256.LoadUnsafe(ref yr, t * 16) + low).StoreUnsafe(ref yr, t * 16);" : "low.StoreUnsafe(ref yr, t * 16);");
                        _s.Line(m.ResidualAdd ? "(Vector256.LoadUnsafe(ref yr, t * 16 + 8) + high).StoreUnsafe(ref yr, t * 16 + 8);" : "high.StoreUnsafe(ref yr, t * 16 + 8);");
                    }
                PartialTile(m, batched, tile.Name(path), "out var low, out var high", k => $"{(k < 8 ? "low" : "high")}.GetElement({k % 8})");
            }
        }
        using (_s.Block("else"))
        using (_s.Block("for (nuint r = lo; r < hi; r++)"))
        {
            _s.Line("nuint t = r / 16, j = r % 16;");
            using (PositionsOf(m, batched))
                _s.Line($"Unsafe.Add(ref yr, r) {(m.ResidualAdd ? "+=" : "=")} {tile.RowName}(ref Unsafe.Add(ref wq, t * {I(tile.TileBytes)}), {InputRow(m, batched)}, j);");
        }
    }

    /// <summary>
    /// The products on AVX-512 (BW): whole tiles, each one 512-bit vector of 16 rows (<see cref="EmitWideTile"/>);
    /// batched, <see cref="WidePositions"/> positions per load of a tile's weights, the positions left over one by one.
    /// The last partial tile runs one position at a time, only its real rows stored. <paramref name="keyword"/> opens
    /// the check ("if", or "else if" after a path tried first).
    /// </summary>
    private void WidePath(QuantizedMatrixShape m, bool batched, string keyword)
    {
        var positions = WidePositions(m.Type);
        var tile = m.Tile;
        var full = m.Rows / TiledQuantLayout.TileRows;
        var y = batched ? "ybase" : "yr";
        string Weights(string t) => $"ref Unsafe.Add(ref wq, {t} * {I(tile.TileBytes)})";
        string Outs(int count) => string.Join(", ", Enumerable.Range(0, count).Select(k => $"out var y{k}"));
        void Store(int k, string at) => _s.Line(m.ResidualAdd
            ? $"(Vector512.LoadUnsafe(ref {y}, {at}) + y{k}).StoreUnsafe(ref {y}, {at});"
            : $"y{k}.StoreUnsafe(ref {y}, {at});");
        _s.Line(batched
            ? $"// AVX-512: a tile's 16 rows in one vector, {positions} positions per load of its weights (the nibbles unpacked once for them)."
            : m.Type == TiledQuantType.Q4_0
                ? "// AVX-512: a tile's 16 rows in one vector, half the multiply instructions of the 256-bit VPDPBUSD path."
                : "// AVX-512 without AVX-VNNI: a tile's 16 rows in one vector, each weight byte split into nibbles once for them.");
        using (_s.Block($"{keyword} ({Avx512BW}.IsSupported)"))
        {
            if (full > 0)
                using (_s.Block($"for (nuint t = lo / 16; t < Math.Min(hi / 16, {I(full)}); t++)"))
                {
                    if (!batched)
                    {
                        _s.Line($"{tile.WideName(1)}({Weights("t")}, {InputRow(m, batched)}, {Outs(1)});");
                        Store(0, "t * 16");
                    }
                    else
                    {
                        _s.Line("nuint p = 0;");
                        using (_s.Block($"for (; p + {positions} <= n; p += {positions})"))
                        {
                            _s.Line($"{tile.WideName(positions)}({Weights("t")}, {InputRow(m, batched)}, {Outs(positions)});");
                            for (var k = 0; k < positions; k++) Store(k, $"(p + {k}) * {I(m.Rows)} + t * 16");
                        }
                        using (_s.Block("for (; p < n; p++)"))
                        {
                            _s.Line($"{tile.WideName(1)}({Weights("t")}, {InputRow(m, batched)}, {Outs(1)});");
                            Store(0, $"p * {I(m.Rows)} + t * 16");
                        }
                    }
                }
            PartialTile(m, batched, tile.WideName(1), Outs(1), k => $"y0.GetElement({k})");
        }
    }

    /// <summary>
    /// The last, partial tile (when the rows are not a multiple of 16), one position at a time through
    /// <paramref name="kernel"/> (whose out arguments are <paramref name="outs"/>); only its real rows are stored,
    /// row k's sum being <paramref name="lane"/>(k).
    /// </summary>
    private void PartialTile(QuantizedMatrixShape m, bool batched, string kernel, string outs, Func<int, string> lane)
    {
        var tile = m.Tile;
        var full = m.Rows / TiledQuantLayout.TileRows;
        var rest = m.Rows % TiledQuantLayout.TileRows;
        if (rest == 0) return;
        _s.Line($"// The last tile holds rows {full * 16}..{m.Rows - 1}: its other lanes are padding, never stored.");
        using (_s.Block($"if (hi > {I(full * 16)})"))
        using (PositionsOf(m, batched))
        {
            _s.Line($"{kernel}(ref Unsafe.Add(ref wq, {I(full * tile.TileBytes)}), {InputRow(m, batched)}, {outs});");
            for (var k = 0; k < rest; k++)
                _s.Line($"Unsafe.Add(ref yr, {full * 16 + k}) {(m.ResidualAdd ? "+=" : "=")} {lane(k)};");
        }
    }

    /// <summary>The batched kernel's loop over positions (position p's y row as yr); the single kernel has one position: no loop.</summary>
    private SourceWriter.Scope PositionsOf(QuantizedMatrixShape m, bool batched, string from = "0")
    {
        if (!batched) return default;
        var scope = _s.Block(from == "0" ? "for (nuint p = 0; p < n; p++)" : $"for (; p < n; p++)");
        _s.Line($"ref float yr = ref Unsafe.Add(ref ybase, p * {I(m.Rows)});");
        return scope;
    }

    /// <summary>
    /// The batched AVX-VNNI path's whole tiles, four positions at a time (<see cref="EmitTile4"/>: each weight vector
    /// loaded, and unpacked, once for the four); the positions left over run the one-position tile kernel after it,
    /// in the loop <see cref="PositionsOf"/> opens from p. Every (row, position) gets the same arithmetic either way.
    /// </summary>
    private SourceWriter.Scope FoursOf(QuantizedMatrixShape m)
    {
        var tile = m.Tile;
        _s.Line("nuint p = 0;");
        using (_s.Block("for (; p + 4 <= n; p += 4)"))
        using (_s.Block("for (nuint half = 0; half < 2; half++)"))
        {
            _s.Line($"{tile.Name4}(ref Unsafe.Add(ref wq, t * {I(tile.TileBytes)}), ref Unsafe.Add(ref xq, p * {I(m.Cols)}), ref Unsafe.Add(ref xd, p * {I(m.Blocks)}), ref Unsafe.Add(ref xs, p * {I(m.Blocks)}), half, out var y0, out var y1, out var y2, out var y3);");
            for (var k = 0; k < 4; k++)
            {
                var at = $"(p + {k}) * {I(m.Rows)} + t * 16 + half * 8";
                _s.Line(m.ResidualAdd
                    ? $"(Vector256.LoadUnsafe(ref ybase, {at}) + y{k}).StoreUnsafe(ref ybase, {at});"
                    : $"y{k}.StoreUnsafe(ref ybase, {at});");
            }
        }
        return default;
    }

    /// <summary>The tile kernels' input arguments: position p's quants, scales and sums (the only row, unbatched).</summary>
    private static string InputRow(QuantizedMatrixShape m, bool batched) =>
        batched
            ? $"ref Unsafe.Add(ref xq, p * {I(m.Cols)}), ref Unsafe.Add(ref xd, p * {I(m.Blocks)}), ref Unsafe.Add(ref xs, p * {I(m.Blocks)})"
            : "ref xq, ref xd, ref xs";

    /// <summary>
    /// Half a tile (8 rows) against four input rows at once, for batched products on the AVX-VNNI path: per group one
    /// weight vector (Q4_0: unpacked once) feeds four VPDPBUSDs, one per position, and per block the 8 scales are
    /// converted once for the four. The registers: 4 integer sums, 4 float sums, the weights, a broadcast x, the scales.
    /// Each (row, position) runs exactly the one-position kernel's arithmetic.
    /// </summary>
    private void EmitTile4(TileShape t)
    {
        var q8 = t.Type == TiledQuantType.Q8_0;
        var groups = TiledQuantLayout.Groups(t.Type);
        string X(int k, int offset) => $"Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref xb, {(k == 0 ? "" : $"{I((long)k * t.Cols)} + ")}{offset}))).AsSByte()";
        _s.Line($"/// <summary>Rows 8·half..8·half+7 of a tile of a {t.Type} W with {t.Cols} columns · four quantized input rows {t.Cols} apart (register-blocked).</summary>");
        _s.Line(Inline);
        using (_s.Block($"private static void {t.Name4}(ref byte tile, ref sbyte xq, ref float xd, ref int xs, nuint half, out Vector256<float> y0, out Vector256<float> y1, out Vector256<float> y2, out Vector256<float> y3)"))
        {
            _s.Line("var acc0 = Vector256<float>.Zero;");
            _s.Line("var acc1 = Vector256<float>.Zero;");
            _s.Line("var acc2 = Vector256<float>.Zero;");
            _s.Line("var acc3 = Vector256<float>.Zero;");
            if (!q8) _s.Line("var nibble = Vector256.Create((byte)0x0F);");
            using (_s.Block($"for (nuint b = 0; b < {t.Blocks}; b++)"))
            {
                _s.Line($"ref byte q = ref Unsafe.Add(ref tile, {t.QuantsAt("b")} + half * 32);");
                _s.Line("ref byte xb = ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref xq, b * 32));");
                for (var k = 0; k < 4; k++)
                    _s.Line($"var s{k} = Vector256.Create(-(Unsafe.Add(ref xs, b{(k == 0 ? "" : $" + {I((long)k * t.Blocks)}")}) << {(q8 ? 7 : 3)}));");
                for (var g = 0; g < groups; g++)
                {
                    if (q8)
                    {
                        _s.Line($"var w{g} = Vector256.LoadUnsafe(ref q, {g * 64}); // values {4 * g}..{4 * g + 3} of 8 rows");
                        for (var k = 0; k < 4; k++) _s.Line($"s{k} = {AvxVnni}.MultiplyWideningAndAdd(s{k}, w{g}, {X(k, 4 * g)});");
                    }
                    else
                    {
                        _s.Line($"var p{g} = Vector256.LoadUnsafe(ref q, {g * 64});");
                        _s.Line($"var l{g} = p{g} & nibble; // values {4 * g}..{4 * g + 3}");
                        _s.Line($"var h{g} = Vector256.ShiftRightLogical(p{g}.AsUInt16(), 4).AsByte() & nibble; // values {16 + 4 * g}..{16 + 4 * g + 3}");
                        for (var k = 0; k < 4; k++)
                        {
                            _s.Line($"s{k} = {AvxVnni}.MultiplyWideningAndAdd(s{k}, l{g}, {X(k, 4 * g)});");
                            _s.Line($"s{k} = {AvxVnni}.MultiplyWideningAndAdd(s{k}, h{g}, {X(k, 16 + 4 * g)});");
                        }
                    }
                }
                _s.Line($"var d = HalfToSingle8(ref Unsafe.Add(ref tile, {t.ScalesAt("b")} + half * 16));");
                for (var k = 0; k < 4; k++)
                {
                    var dx = $"Vector256.Create(Unsafe.Add(ref xd, b{(k == 0 ? "" : $" + {I((long)k * t.Blocks)}")}))";
                    _s.Line(q8
                        ? $"acc{k} = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s{k}), d * {dx}, acc{k});"
                        : $"acc{k} = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s{k}) * d, {dx}, acc{k});");
                }
            }
            for (var k = 0; k < 4; k++) _s.Line($"y{k} = acc{k};");
        }
    }

    /// <summary>
    /// A whole tile against <paramref name="positions"/> input rows on AVX-512 (BW), since .NET offers no 512-bit
    /// VPDPBUSD: each 64-byte group (4 values of all 16 rows, lane j row j) is loaded and split into nibbles once for
    /// every position, then VPMADDUBSW multiplies nibbles (below 16) by input bytes into 16-bit pair sums, which add up
    /// over a block in 16 bits (each at most 2·15·128 in magnitude, a block's 8 of them per lane and sum below 2¹⁵:
    /// exact), and VPMADDWD widens each row's sums to 32 bits. Q4_0's nibbles are its values; Q8_0's stored byte is
    /// 16·high + low, so its high and low nibbles' sums are kept apart and weighted 16 and 1 by the VPMADDWD. The
    /// integer sums are the same exact ones as VPDPBUSD's, and each lane then runs the one-position kernel's float chain.
    /// </summary>
    private void EmitWideTile(TileShape t, int positions)
    {
        var q8 = t.Type == TiledQuantType.Q8_0;
        var groups = TiledQuantLayout.Groups(t.Type);
        string X(int k, int offset) => $"Vector512.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref xb, {(k == 0 ? "" : $"{I((long)k * t.Cols)} + ")}{offset}))).AsSByte()";
        string At(int k) => k == 0 ? "b" : $"b + {I((long)k * t.Blocks)}";
        string Madd(string w, string x) => $"{Avx512BW}.MultiplyAddAdjacent({w}, {x})";
        var outs = string.Join(", ", Enumerable.Range(0, positions).Select(k => $"out Vector512<float> y{k}"));
        _s.Line($"/// <summary>A tile of 16 rows of a {t.Type} W with {t.Cols} columns ({t.Blocks} blocks) · {positions} quantized input row{(positions == 1 ? "" : $"s {t.Cols} apart")}, 16 rows per 512-bit vector.</summary>");
        _s.Line(Inline);
        using (_s.Block($"private static void {t.WideName(positions)}(ref byte tile, ref sbyte xq, ref float xd, ref int xs, {outs})"))
        {
            for (var k = 0; k < positions; k++) _s.Line($"var acc{k} = Vector512<float>.Zero;");
            _s.Line("var nibble = Vector512.Create((byte)0x0F);");
            _s.Line("var ones = Vector512.Create((short)1);");
            if (q8) _s.Line("var sixteen = Vector512.Create((short)16);");
            using (_s.Block($"for (nuint b = 0; b < {t.Blocks}; b++)"))
            {
                _s.Line($"ref byte q = ref Unsafe.Add(ref tile, {t.QuantsAt("b")});");
                _s.Line("ref byte xb = ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref xq, b * 32));");
                for (var g = 0; g < groups; g++)
                {
                    _s.Line($"var p{g} = Vector512.LoadUnsafe(ref q, {g * 64});");
                    _s.Line(q8
                        ? $"var l{g} = p{g} & nibble; // values {4 * g}..{4 * g + 3} of the 16 rows: low nibbles, then high"
                        : $"var l{g} = p{g} & nibble; // values {4 * g}..{4 * g + 3} of the 16 rows");
                    _s.Line(q8
                        ? $"var h{g} = HighNibbles(p{g});"
                        : $"var h{g} = HighNibbles(p{g}); // values {16 + 4 * g}..{16 + 4 * g + 3}");
                    for (var k = 0; k < positions; k++)
                    {
                        if (q8)
                        {
                            _s.Line($"var x{g}_{k} = {X(k, 4 * g)};");
                            _s.Line(g == 0 ? $"var il{k} = {Madd($"l{g}", $"x{g}_{k}")};" : $"il{k} += {Madd($"l{g}", $"x{g}_{k}")};");
                            _s.Line(g == 0 ? $"var ih{k} = {Madd($"h{g}", $"x{g}_{k}")};" : $"ih{k} += {Madd($"h{g}", $"x{g}_{k}")};");
                        }
                        else
                        {
                            var pair = $"{Madd($"l{g}", X(k, 4 * g))} + {Madd($"h{g}", X(k, 16 + 4 * g))}";
                            _s.Line(g == 0 ? $"var i{k} = {pair};" : $"i{k} += {pair};");
                        }
                    }
                }
                _s.Line($"var d = HalfToSingle16(ref Unsafe.Add(ref tile, {t.ScalesAt("b")}));");
                _s.Line(q8
                    ? "// The weights are stored w + 128: each row's sum starts at −128·Σx; then fma(s, d_w·d_x, sum), as the one-position kernel."
                    : "// The weights are stored w + 8: each row's sum starts at −8·Σx; then fma(s·d_w, d_x, sum), as the one-position kernel.");
                for (var k = 0; k < positions; k++)
                {
                    var start = $"Vector512.Create(-(Unsafe.Add(ref xs, {At(k)}) << {(q8 ? 7 : 3)}))";
                    _s.Line(q8
                        ? $"var s{k} = {Madd($"ih{k}", "sixteen")} + {Madd($"il{k}", "ones")} + {start};"
                        : $"var s{k} = {Madd($"i{k}", "ones")} + {start};");
                    _s.Line(q8
                        ? $"acc{k} = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(s{k}), d * Vector512.Create(Unsafe.Add(ref xd, {At(k)})), acc{k});"
                        : $"acc{k} = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(s{k}) * d, Vector512.Create(Unsafe.Add(ref xd, {At(k)})), acc{k});");
                }
            }
            for (var k = 0; k < positions; k++) _s.Line($"y{k} = acc{k};");
        }
    }

    /// <summary>The tile kernels of one (type, columns): one per vector path, and the scalar row kernel.</summary>
    private void EmitTileKernels(TileShape t)
    {
        foreach (var (path, _) in IntegerPaths)
        {
            EmitVectorTile(t, path);
            _s.Line();
        }
        EmitTileRow(t);
    }

    /// <summary>One tile (16 rows) against one input row: rows 0-7 in <c>lo</c>, 8-15 in <c>hi</c>.</summary>
    private void EmitVectorTile(TileShape t, string path)
    {
        var q8 = t.Type == TiledQuantType.Q8_0;
        var groups = TiledQuantLayout.Groups(t.Type);
        var how = path == "Vnni"
            ? "VPDPBUSD (AvxVnni) adds 4 unsigned weight bytes × 4 input bytes into each row's lane"
            : q8 ? "AVX2 without VNNI: DotBytes, exact for weight bytes up to 255" : "AVX2 without VNNI: DotNibbles, exact for nibbles";
        string Dot(string acc, string w, string x) =>
            path == "Vnni" ? $"{acc} = {AvxVnni}.MultiplyWideningAndAdd({acc}, {w}, {x});" : $"{acc} += {(q8 ? "DotBytes" : "DotNibbles")}({w}, {x});";
        string Broadcast(int offset) => $"Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref xb, {offset}))).AsSByte()";

        _s.Line($"/// <summary>Tile of 16 rows of a {t.Type} W with {t.Cols} columns ({t.Blocks} blocks) · one quantized input row: {how}.</summary>");
        _s.Line(Inline);
        using (_s.Block($"private static void {t.Name(path)}(ref byte tile, ref sbyte xq, ref float xd, ref int xs, out Vector256<float> lo, out Vector256<float> hi)"))
        {
            _s.Line("var accLo = Vector256<float>.Zero;");
            _s.Line("var accHi = Vector256<float>.Zero;");
            if (!q8) _s.Line("var nibble = Vector256.Create((byte)0x0F);");
            using (_s.Block($"for (nuint b = 0; b < {t.Blocks}; b++)"))
            {
                _s.Line($"ref byte q = ref Unsafe.Add(ref tile, {t.QuantsAt("b")});");
                _s.Line("ref byte xb = ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref xq, b * 32));");
                _s.Line($"// The weights are stored w + {(q8 ? "128" : "8")}: each row's sum starts at −{(q8 ? "128" : "8")}·Σx. Two chains per half keep the adds independent.");
                _s.Line($"var lo0 = Vector256.Create(-(Unsafe.Add(ref xs, b) << {(q8 ? 7 : 3)}));");
                _s.Line("var hi0 = lo0;");
                _s.Line("var lo1 = Vector256<int>.Zero;");
                _s.Line("var hi1 = Vector256<int>.Zero;");
                for (var g = 0; g < groups; g++)
                {
                    if (q8)
                    {
                        var c = g % 2;
                        _s.Line($"var x{g} = {Broadcast(4 * g)}; // values {4 * g}..{4 * g + 3}");
                        _s.Line(Dot($"lo{c}", $"Vector256.LoadUnsafe(ref q, {g * 64})", $"x{g}"));
                        _s.Line(Dot($"hi{c}", $"Vector256.LoadUnsafe(ref q, {g * 64 + 32})", $"x{g}"));
                    }
                    else
                    {
                        _s.Line($"var xl{g} = {Broadcast(4 * g)}; // values {4 * g}..{4 * g + 3} (low nibbles)");
                        _s.Line($"var xh{g} = {Broadcast(16 + 4 * g)}; // values {16 + 4 * g}..{16 + 4 * g + 3} (high nibbles)");
                        _s.Line($"var pl{g} = Vector256.LoadUnsafe(ref q, {g * 64});");
                        _s.Line($"var ph{g} = Vector256.LoadUnsafe(ref q, {g * 64 + 32});");
                        _s.Line(Dot("lo0", $"pl{g} & nibble", $"xl{g}"));
                        _s.Line(Dot("lo1", $"Vector256.ShiftRightLogical(pl{g}.AsUInt16(), 4).AsByte() & nibble", $"xh{g}"));
                        _s.Line(Dot("hi0", $"ph{g} & nibble", $"xl{g}"));
                        _s.Line(Dot("hi1", $"Vector256.ShiftRightLogical(ph{g}.AsUInt16(), 4).AsByte() & nibble", $"xh{g}"));
                    }
                }
                _s.Line($"HalfToSingle(ref Unsafe.Add(ref tile, {t.ScalesAt("b")}), out var dLo, out var dHi);");
                _s.Line("var dx = Vector256.Create(Unsafe.Add(ref xd, b));");
                _s.Line(q8
                    ? "accLo = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(lo0 + lo1), dLo * dx, accLo); // fma(s, d_w·d_x, sum)"
                    : "accLo = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(lo0 + lo1) * dLo, dx, accLo); // fma(s·d_w, d_x, sum)");
                _s.Line(q8
                    ? "accHi = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(hi0 + hi1), dHi * dx, accHi);"
                    : "accHi = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(hi0 + hi1) * dHi, dx, accHi);");
            }
            _s.Line("lo = accLo;");
            _s.Line("hi = accHi;");
        }
    }

    /// <summary>The scalar path: row j of a tile against one input row, the reference's arithmetic written out.</summary>
    private void EmitTileRow(TileShape t)
    {
        var q8 = t.Type == TiledQuantType.Q8_0;
        var groups = TiledQuantLayout.Groups(t.Type);
        Debug.Assert(groups is 4 or 8, "Q8_0 has 8 groups of 4 bytes per block, Q4_0 4");
        _s.Line($"/// <summary>Row j of a tile of a {t.Type} W with {t.Cols} columns · one quantized input row (the scalar path).</summary>");
        _s.Line(Inline);
        using (_s.Block($"private static float {t.RowName}(ref byte tile, ref sbyte xq, ref float xd, ref int xs, nuint j)"))
        {
            _s.Line("var sum = 0f;");
            using (_s.Block($"for (nuint b = 0; b < {t.Blocks}; b++)"))
            {
                _s.Line($"ref byte q = ref Unsafe.Add(ref tile, {t.QuantsAt("b")} + j * 4);");
                _s.Line("ref sbyte xb = ref Unsafe.Add(ref xq, b * 32);");
                _s.Line($"var s = -(Unsafe.Add(ref xs, b) << {(q8 ? 7 : 3)});");
                using (_s.Block($"for (nuint g = 0; g < {groups}; g++)"))
                using (_s.Block("for (nuint k = 0; k < 4; k++)"))
                {
                    if (q8) _s.Line("s += Unsafe.Add(ref q, g * 64 + k) * Unsafe.Add(ref xb, g * 4 + k);");
                    else
                    {
                        _s.Line("int v = Unsafe.Add(ref q, g * 64 + k);");
                        _s.Line("s += (v & 15) * Unsafe.Add(ref xb, g * 4 + k) + (v >> 4) * Unsafe.Add(ref xb, 16 + g * 4 + k);");
                    }
                }
                _s.Line($"var d = (float)Unsafe.ReadUnaligned<Half>(ref Unsafe.Add(ref tile, {t.ScalesAt("b")} + j * 2));");
                _s.Line(q8
                    ? "sum = MathF.FusedMultiplyAdd(s, d * Unsafe.Add(ref xd, b), sum);"
                    : "sum = MathF.FusedMultiplyAdd(s * d, Unsafe.Add(ref xd, b), sum);");
            }
            _s.Line("return sum;");
        }
    }
}
