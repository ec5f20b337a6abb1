using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// A Q8_0 or Q4_0 weight matrix as an integer kernel sees it: <see cref="Rows"/>×<see cref="Cols"/>, repacked into
/// tiles of 16 rows (<see cref="TiledQuantLayout"/>), and whether the product is added to the output (the residual
/// add). Like <see cref="MatrixShape"/>, one shape names the one-position kernel and its batched twin.
/// </summary>
public sealed record QuantizedMatrixShape(TiledQuantType Type, int Rows, int Cols, bool ResidualAdd)
{
    /// <summary>Bytes of the repacked matrix.</summary>
    public long Bytes => TiledQuantLayout.Bytes(Type, Rows, Cols);

    public int Blocks => TiledQuantLayout.Blocks(Cols);

    /// <summary>Tiles of 16 rows, the last one partial when 16 does not divide <see cref="Rows"/>.</summary>
    public long Tiles => TiledQuantLayout.Tiles(Rows);

    /// <summary>The type as kernel names spell it: Q8_0, Q4_0.</summary>
    public string TypeName => Type.ToString();

    public string MatVecName => $"{(ResidualAdd ? "MatVecAdd" : "MatVec")}{TypeName}_{Rows}x{Cols}";

    public string MatMatName => $"{(ResidualAdd ? "MatMatAdd" : "MatMat")}{TypeName}_{Rows}x{Cols}";

    /// <summary>The tile kernels both products call: one row of x against one tile, per code path.</summary>
    public TileShape Tile => new(Type, Cols);
}

/// <summary>One tile of 16 rows of a <see cref="Type"/> matrix with <see cref="Cols"/> columns, against one quantized input row.</summary>
public sealed record TileShape(TiledQuantType Type, int Cols)
{
    public int Blocks => TiledQuantLayout.Blocks(Cols);

    /// <summary>Bytes of one tile: tile t starts at t · TileBytes.</summary>
    public long TileBytes => TiledQuantLayout.TileBytes(Type, Cols);

    /// <summary>
    /// The C# expression (of a <c>nuint</c> block index <paramref name="b"/>) for where that block's quants start in a
    /// tile: <see cref="TiledQuantLayout.QuantOffset"/> written out for the kernels.
    /// </summary>
    public string QuantsAt(string b) =>
        $"({b} >> 1) * {Literals.Int(TiledQuantLayout.PairBytes(Type))} + ({b} & 1) * {Literals.Int(TiledQuantLayout.QuantBytesPerTileBlock(Type))}";

    /// <summary>Where block <paramref name="b"/>'s 16 scales start in a tile (<see cref="TiledQuantLayout.ScaleOffset"/>): after the pair's quants, or a lone last block's.</summary>
    public string ScalesAt(string b)
    {
        var quants = TiledQuantLayout.QuantBytesPerTileBlock(Type);
        var pair = $"({b} >> 1) * {Literals.Int(TiledQuantLayout.PairBytes(Type))}";
        var inPair = $"{Literals.Int(2 * quants)} + ({b} & 1) * {Literals.Int(TiledQuantLayout.ScaleBytesPerTileBlock)}";
        return Blocks % 2 == 0 ? $"{pair} + {inPair}" : $"{pair} + ({b} == {Literals.Int(Blocks - 1)} ? {Literals.Int(quants)} : {inPair})";
    }

    /// <summary>The tile kernel of a vector path ("Vnni", "Avx2"): 16 row dots in two vectors.</summary>
    public string Name(string path) => $"Tile{Type}x{Cols}{path}";

    /// <summary>The batched AVX-VNNI path's register-blocked kernel: half a tile against four input rows.</summary>
    public string Name4 => $"Tile4{Type}x{Cols}Vnni";

    /// <summary>
    /// The AVX-512 path's kernel: the whole tile, its 16 rows in one 512-bit vector, against
    /// <paramref name="positions"/> input rows.
    /// </summary>
    public string WideName(int positions) => $"Tile{Type}x{Cols}Wide{positions}";

    /// <summary>The scalar path's kernel: one row of the tile.</summary>
    public string RowName => $"TileRow{Type}x{Cols}";
}
