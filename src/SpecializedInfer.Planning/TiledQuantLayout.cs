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
/// <item>Tiles one after another, each <see cref="TileBytes"/> long. Within a tile, its blocks in pairs: pair p holds
/// the quants of block 2p, then those of block 2p + 1 (<see cref="QuantBytesPerTileBlock"/> each), then the two
/// blocks' scales (64 bytes: the 16 rows' fp16 scales of block 2p at 2j, of block 2p + 1 at 32 + 2j). An odd last
/// block stands alone: its quants, then its scales padded with zeros to 64 bytes. So a product reads one stream of
/// whole cache lines front to back: the scales beside the quants they scale, not in a second region megabytes away
/// (a second stream cost a fifth of the read rate on a Zen 5 core, where the compute is five times faster than memory).</item>
/// <item>A block's quants: for group g, row j of the tile and byte k, the byte at g·64 + 4j + k. Q8_0: 8 groups,
/// value 4g + k of the block stored as an unsigned byte (w + 128, so that it can be VPDPBUSD's unsigned operand; the
/// engine subtracts 128·Σx per block). Q4_0: 4 groups, the file's packed byte 4g + k (low nibble value 4g + k, high
/// nibble value 16 + 4g + k), its nibbles unsigned (w + 8; the engine subtracts 8·Σx).</item>
/// </list>
/// Rows past the matrix in the last tile are zero weights with zero scales. Every part is a whole multiple of 64
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

    /// <summary>Bytes of a pair's (or a lone block's) scales: one cache line.</summary>
    public const int PairScaleBytes = 64;

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

    /// <summary>Bytes of a pair of blocks in a tile: two blocks' quants and their scales.</summary>
    public static int PairBytes(TiledQuantType type) => 2 * QuantBytesPerTileBlock(type) + PairScaleBytes;

    public static long Tiles(int rows) => (rows + TileRows - 1) / TileRows;

    public static int Blocks(int cols) => cols / BlockValues;

    /// <summary>Bytes of one tile: its pairs, then an odd last block's quants and padded scales.</summary>
    public static long TileBytes(TiledQuantType type, int cols)
    {
        var blocks = Blocks(cols);
        return (long)(blocks / 2) * PairBytes(type) + (blocks % 2) * (QuantBytesPerTileBlock(type) + PairScaleBytes);
    }

    /// <summary>Where block <paramref name="block"/>'s quants start within its tile.</summary>
    public static long QuantOffset(TiledQuantType type, int block) =>
        (long)(block / 2) * PairBytes(type) + (block % 2) * QuantBytesPerTileBlock(type);

    /// <summary>Where block <paramref name="block"/>'s 16 scales start within a tile of <paramref name="blocks"/> blocks.</summary>
    public static long ScaleOffset(TiledQuantType type, int blocks, int block)
    {
        var pair = (long)(block / 2) * PairBytes(type);
        var alone = block % 2 == 0 && block == blocks - 1;
        return pair + (alone ? 1 : 2) * QuantBytesPerTileBlock(type) + (block % 2) * ScaleBytesPerTileBlock;
    }

    /// <summary>Bytes of a repacked rows × cols matrix (a multiple of 64).</summary>
    public static long Bytes(TiledQuantType type, int rows, int cols) => Tiles(rows) * TileBytes(type, cols);
}
