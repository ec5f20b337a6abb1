namespace SpecializedInfer.Planning;

/// <summary>The block types generated engines multiply in integers, repacked into <see cref="TiledQuantLayout"/>.</summary>
public enum TiledQuantType
{
    Q8_0,
    Q4_0,
}

/// <summary>
/// The layout a generated engine repacks a Q8_0 or Q4_0 matrix into at load, so that one integer multiply-add
/// instruction (VPDPBUSD, 4 bytes × 4 bytes per 32-bit lane) computes a slice of 8 rows' block dot products at once
/// and no horizontal sum is needed: the file's row-major blocks become tiles of <see cref="TileRows"/> rows.
/// Defined once here, where the runtime's repacker (<c>TiledRepack</c>) and the generator's kernels both read it.
/// <list type="bullet">
/// <item>Quants first: for tile t, block b, group g, row j of the tile and byte k, the byte at
/// ((t·blocks + b)·groups + g)·64 + 4j + k. Q8_0: 8 groups, value 4g + k of the block stored as an unsigned byte
/// (w + 128, so that it can be VPDPBUSD's unsigned operand; the engine subtracts 128·Σx per block). Q4_0: 4 groups,
/// the file's packed byte 4g + k (low nibble value 4g + k, high nibble value 16 + 4g + k), its nibbles unsigned
/// (w + 8; the engine subtracts 8·Σx).</item>
/// <item>Then the scales: for tile t and block b, the 16 rows' fp16 scales at (t·blocks + b)·32 + 2j.</item>
/// </list>
/// Rows past the matrix in the last tile are zero weights with zero scales. Both regions are whole multiples of 64
/// bytes, so every 64-byte group of an aligned copy is one cache line.
/// </summary>
public static class TiledQuantLayout
{
    public const int TileRows = 16;
    public const int BlockValues = 32;

    /// <summary>Bytes of one group: 4 bytes of each of the tile's 16 rows.</summary>
    public const int GroupBytes = 64;

    /// <summary>Bytes of one tile's scales for one block: 16 fp16 values.</summary>
    public const int ScaleBytesPerTileBlock = 32;

    /// <summary>The type a manifest's <c>weightType</c> names, when generated engines keep it quantized.</summary>
    public static TiledQuantType? TypeOf(string? weightType) => weightType switch
    {
        "q8_0" => TiledQuantType.Q8_0,
        "q4_0" => TiledQuantType.Q4_0,
        _ => null,
    };

    /// <summary>The weight type's name as manifests spell it.</summary>
    public static string Name(TiledQuantType type) => type == TiledQuantType.Q8_0 ? "q8_0" : "q4_0";

    /// <summary>Groups per block: Q8_0's 32 bytes per row, Q4_0's 16 (two values per byte).</summary>
    public static int Groups(TiledQuantType type) => type == TiledQuantType.Q8_0 ? 8 : 4;

    /// <summary>Quant bytes of one tile for one block.</summary>
    public static int QuantBytesPerTileBlock(TiledQuantType type) => Groups(type) * GroupBytes;

    public static long Tiles(int rows) => (rows + TileRows - 1) / TileRows;

    public static int Blocks(int cols) => cols / BlockValues;

    /// <summary>Bytes of the quants region (its end is where the scales start).</summary>
    public static long QuantBytes(TiledQuantType type, int rows, int cols) => Tiles(rows) * Blocks(cols) * QuantBytesPerTileBlock(type);

    /// <summary>Bytes of the scales region, padded to a multiple of 64.</summary>
    public static long ScaleBytes(int rows, int cols) => (Tiles(rows) * Blocks(cols) * ScaleBytesPerTileBlock + 63) / 64 * 64;

    /// <summary>Bytes of a repacked rows × cols matrix (a multiple of 64).</summary>
    public static long Bytes(TiledQuantType type, int rows, int cols) => QuantBytes(type, rows, cols) + ScaleBytes(rows, cols);
}
