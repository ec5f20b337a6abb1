using System.Buffers.Binary;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Quantization;

/// <summary>
/// Rewrites a Q8_0 or Q4_0 matrix from the file's row-major blocks into the tiles generated engines multiply
/// (<see cref="TiledQuantLayout"/>, which defines every byte's place): the same weights and scales, interleaved.
/// </summary>
public static class TiledRepack
{
    /// <summary>The tiled type of a ggml type, or null when generated engines do not multiply it in its blocks.</summary>
    public static TiledQuantType? TypeOf(GgmlType type) => type switch
    {
        GgmlType.Q8_0 => TiledQuantType.Q8_0,
        GgmlType.Q4_0 => TiledQuantType.Q4_0,
        _ => null,
    };

    /// <summary>Bytes <paramref name="tensor"/> takes repacked.</summary>
    public static long Bytes(WeightTensor tensor) =>
        TiledQuantLayout.Bytes(TypeOf(tensor.Type) ?? throw NotTiled(tensor), tensor.Rows, tensor.Cols);

    /// <summary>Writes <paramref name="tensor"/> (Q8_0 or Q4_0) repacked into <paramref name="destination"/> (exactly <see cref="Bytes"/> long).</summary>
    public static void Repack(WeightTensor tensor, Span<byte> destination)
    {
        var type = TypeOf(tensor.Type) ?? throw NotTiled(tensor);
        int rows = tensor.Rows, cols = tensor.Cols;
        var blocks = TiledQuantLayout.Blocks(cols);
        if (destination.Length != TiledQuantLayout.Bytes(type, rows, cols))
            throw new ArgumentException($"A {rows}×{cols} {type} matrix takes {TiledQuantLayout.Bytes(type, rows, cols)} bytes repacked, not {destination.Length}.");
        var groups = TiledQuantLayout.Groups(type);
        var blockBytes = type == TiledQuantType.Q8_0 ? 34 : 18;
        var tileBytes = TiledQuantLayout.TileBytes(type, cols);
        // Every byte is written once (the destination may be uninitialized): padding rows of the last tile hold zero
        // weights, 128 (Q8_0, w + 128) or two nibbles of 8 (Q4_0, w + 8), with zero scales; an odd last block's scale
        // line is padded with zeros.
        var zero = type == TiledQuantType.Q8_0 ? 0x80808080u : 0x88888888u;
        var tiles = TiledQuantLayout.Tiles(rows);
        for (var r = 0; r < tiles * TiledQuantLayout.TileRows; r++)
        {
            var real = r < rows;
            var row = real ? tensor.QuantizedRow(r) : default;
            int tile = r / TiledQuantLayout.TileRows, j = r % TiledQuantLayout.TileRows;
            var at = tile * tileBytes;
            if (j == 0 && blocks % 2 == 1)
                destination.Slice(checked((int)(at + TiledQuantLayout.ScaleOffset(type, blocks, blocks - 1))) + TiledQuantLayout.ScaleBytesPerTileBlock, TiledQuantLayout.ScaleBytesPerTileBlock).Clear();
            for (var b = 0; b < blocks; b++)
            {
                var quants = checked((int)(at + TiledQuantLayout.QuantOffset(type, b)));
                var scale = destination.Slice(checked((int)(at + TiledQuantLayout.ScaleOffset(type, blocks, b))) + 2 * j, 2);
                var block = real ? row.Slice(b * blockBytes, blockBytes) : default;
                if (real) block[..2].CopyTo(scale);
                else scale.Clear();
                for (var g = 0; g < groups; g++)
                {
                    var four = zero;
                    if (real)
                    {
                        four = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(2 + 4 * g, 4));
                        if (type == TiledQuantType.Q8_0) four ^= 0x80808080u; // w + 128 as an unsigned byte
                    }
                    BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(quants + g * TiledQuantLayout.GroupBytes + 4 * j, 4), four);
                }
            }
        }
    }

    private static NotSupportedException NotTiled(WeightTensor tensor) =>
        new($"Only Q8_0 and Q4_0 matrices are repacked into tiles; this one is {tensor.Type}.");
}
