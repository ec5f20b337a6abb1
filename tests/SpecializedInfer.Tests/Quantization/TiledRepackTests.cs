using System.Buffers.Binary;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Quantization;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Tests.Quantization;

/// <summary>
/// What generated engines' integer kernels read: matrices repacked into 16-row tiles, decoded back here by the byte
/// positions <see cref="TiledQuantLayout"/> documents (written out independently in the test), and inputs quantized
/// into split arrays, equal to the 34-byte blocks the reference engine multiplies.
/// </summary>
public sealed class TiledRepackTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-tiled-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void Repacking_gives_back_the_file_pages_it_read_and_the_file_still_reads_after()
    {
        // Linux: the mapping's resident size is read from /proc/self/smaps (the project's CI and machines are Linux).
        var spec = new SyntheticModelSpec { Name = "pages", Dim = 256, HiddenDim = 1024, Layers = 2, Heads = 4, VocabSize = 400, ContextLength = 32, Seed = 9 };
        var f32 = Path.Combine(_dir, "f32-pages.gguf");
        var path = Path.Combine(_dir, "q4-pages.gguf");
        SyntheticModel.Write(spec, f32);
        using (var input = GgufFile.Open(f32)) ModelQuantizer.Quantize(input, QuantizedFileType.Q4_0, path);
        using var weights = LlamaWeights.Load(path);
        var layers = Enumerable.Range(0, 2).Select(weights.Layer).ToList();
        var matrices = layers.SelectMany(l => new[] { l.Query, l.Key, l.Value, l.Output, l.Gate, l.Up, l.Down }).ToList();
        var layerBytes = matrices.Sum(m => m.Rows * m.RowBytes);
        long checksum = 0;
        foreach (var m in matrices)
            for (var r = 0; r < m.Rows; r++) checksum += m.QuantizedRow(r)[0]; // touch every page of the layers
        var before = MappedResidentBytes(path);
        Assert.True(before >= layerBytes, $"the layers' pages were read: {before} resident of {layerBytes}");

        var repacked = layers.Select(l => new RepackedLayer(l)).ToList();
        var after = MappedResidentBytes(path);
        // Every whole page inside a matrix leaves (at most one partial page at each end of each of the 14 stays).
        Assert.True(before - after >= layerBytes - 14 * 2 * Environment.SystemPageSize, $"resident {before} → {after} bytes, layers {layerBytes}");

        // The mapping is still the file: reading a released row faults it back in with the same bytes.
        long again = 0;
        foreach (var m in matrices)
            for (var r = 0; r < m.Rows; r++) again += m.QuantizedRow(r)[0];
        Assert.Equal(checksum, again);
        Assert.Equal(GgmlType.Q4_0, repacked[1].Down.Type);
    }

    /// <summary>The resident bytes of this process's mappings of <paramref name="path"/> (the Rss lines of /proc/self/smaps).</summary>
    private static long MappedResidentBytes(string path)
    {
        var full = Path.GetFullPath(path);
        long total = 0;
        var inFile = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 0 && fields[0].Contains('-') && !fields[0].EndsWith(':')) inFile = line.EndsWith(" " + full, StringComparison.Ordinal);
            else if (inFile && fields is ["Rss:", var kb, "kB"]) total += long.Parse(kb, System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        return total;
    }

    [Theory]
    [InlineData(QuantizedFileType.Q8_0)]
    [InlineData(QuantizedFileType.Q4_0)]
    public void Repacked_tiles_hold_every_weight_and_scale_of_the_file(QuantizedFileType fileType)
    {
        // Key/value rows 24: a full tile and a partial one; 3 blocks per row.
        var spec = new SyntheticModelSpec { Name = "tiles", Dim = 96, HiddenDim = 128, Layers = 1, Heads = 8, KvHeads = 2, VocabSize = 400, ContextLength = 32, Seed = 3 };
        var f32 = Path.Combine(_dir, "f32.gguf");
        var path = Path.Combine(_dir, $"{fileType}.gguf");
        SyntheticModel.Write(spec, f32);
        using (var input = GgufFile.Open(f32)) ModelQuantizer.Quantize(input, fileType, path);
        using var weights = LlamaWeights.Load(path);
        foreach (var tensor in new[] { weights.Layer(0).Key, weights.Layer(0).Query, weights.Layer(0).Down })
        {
            var repacked = RepackedMatrix.Of(tensor);
            Assert.Equal(tensor.Type, repacked.Type);
            var tiles = repacked.Blocks;
            Assert.Equal(0, (int)(AddressOf(tiles) % 64)); // 64-byte aligned
            var q8 = tensor.Type == GgmlType.Q8_0;
            int blocks = tensor.Cols / 32, groups = q8 ? 8 : 4, blockBytes = q8 ? 34 : 18;
            var tileCount = (tensor.Rows + 15) / 16;
            // A tile: pairs of blocks, each pair's two blocks of quants (groups · 64 bytes each) and then their
            // 64 bytes of scales; the odd last block (3 blocks here) alone, its quants and then its scales padded to 64.
            int quantBytes = groups * 64, pairBytes = 2 * quantBytes + 64, tileBytes = blocks / 2 * pairBytes + blocks % 2 * (quantBytes + 64);
            Assert.Equal(tileCount * tileBytes, tiles.Length);
            // Every byte is written: a destination full of other bytes comes out the same.
            var dirty = new byte[tiles.Length];
            dirty.AsSpan().Fill(0xA5);
            TiledRepack.Repack(tensor, dirty);
            Assert.True(dirty.AsSpan().SequenceEqual(tiles), "repacking over stale bytes gives the same tiles");
            for (var r = 0; r < tileCount * 16; r++)
                for (var b = 0; b < blocks; b++)
                {
                    int t = r / 16, j = r % 16;
                    var quantsAt = t * tileBytes + b / 2 * pairBytes + b % 2 * quantBytes;
                    var alone = b == blocks - 1 && b % 2 == 0;
                    var scalesAt = t * tileBytes + b / 2 * pairBytes + (alone ? quantBytes : 2 * quantBytes + b % 2 * 32);
                    var scale = BinaryPrimitives.ReadUInt16LittleEndian(tiles.Slice(scalesAt + 2 * j));
                    var block = r < tensor.Rows ? tensor.QuantizedRow(r).Slice(b * blockBytes, blockBytes) : default;
                    Assert.Equal(r < tensor.Rows ? BinaryPrimitives.ReadUInt16LittleEndian(block) : 0, scale);
                    if (alone) Assert.True(tiles.Slice(scalesAt + 32, 32).IndexOfAnyExcept((byte)0) < 0, "a lone block's scales are padded with zeros");
                    for (var v = 0; v < 32; v++)
                    {
                        int stored, expected;
                        if (q8)
                        {
                            // Value v of the block: group v / 4, byte v % 4, stored w + 128.
                            stored = tiles[quantsAt + v / 4 * 64 + 4 * j + v % 4] - 128;
                            expected = r < tensor.Rows ? (sbyte)block[2 + v] : 0;
                        }
                        else
                        {
                            // Values v < 16 in the low nibbles of group v / 4, v ≥ 16 in the high nibbles of group (v − 16) / 4.
                            var k = v % 16;
                            var packed = tiles[quantsAt + k / 4 * 64 + 4 * j + k % 4];
                            stored = (v < 16 ? packed & 15 : packed >> 4) - 8;
                            expected = r < tensor.Rows ? ((v < 16 ? block[2 + k] & 15 : block[2 + k] >> 4) - 8) : 0;
                        }
                        Assert.True(expected == stored, $"row {r}, block {b}, value {v}: tiles hold {stored}, the file {expected}");
                    }
                }
        }
    }

    [Fact]
    public void One_row_and_unquantized_matrices_stay_floats()
    {
        var spec = new SyntheticModelSpec { Name = "f32", Dim = 64, HiddenDim = 96, Layers = 1, Heads = 4, VocabSize = 400, ContextLength = 16, Seed = 4 };
        var path = Path.Combine(_dir, "plain.gguf");
        SyntheticModel.Write(spec, path);
        using var weights = LlamaWeights.Load(path);
        var matrix = RepackedMatrix.Of(weights.Layer(0).Query);
        Assert.Equal(GgmlType.F32, matrix.Type);
        Assert.True(matrix.Floats.SequenceEqual(weights.Layer(0).Query.Span));
        Assert.Throws<InvalidOperationException>(() => matrix.Blocks.Length);
    }

    [Fact]
    public void Split_activations_equal_the_blocks_the_reference_multiplies()
    {
        foreach (var (seed, scale) in new[] { (1, 1f), (2, 0.01f), (3, 300f) })
        {
            // Two rows of whole blocks: the edge blocks (zeros, ties, extremes) padded with weights to an even count.
            var edges = QuantData.EdgeBlocks(32);
            float[] x = [.. QuantData.Weights(1024 + (edges.Length / 32 % 2 == 1 ? 32 : 0), seed, scale), .. edges];
            var blocks = new byte[ActivationQuantizer.Bytes(x.Length)];
            ActivationQuantizer.Q8_0(x, blocks);
            var split = new QuantizedActivations(2, x.Length / 2);
            split.Quantize(x, x.Length / 2, 2);
            Assert.Equal((x.Length / 2, 2), (split.Cols, split.Rows));
            for (var b = 0; b < x.Length / 32; b++)
            {
                var block = blocks.AsSpan(b * 34, 34);
                Assert.Equal((float)BinaryPrimitives.ReadHalfLittleEndian(block), split.Scales[b]);
                var quants = block[2..].ToArray().Select(v => (sbyte)v).ToArray();
                Assert.Equal(quants, split.Quants.AsSpan(b * 32, 32).ToArray());
                Assert.Equal(quants.Sum(v => v), split.Sums[b]);
            }
        }
    }

    [Fact]
    public void Quantizing_more_than_the_activations_hold_is_refused()
    {
        var split = new QuantizedActivations(1, 64);
        Assert.Throws<ArgumentException>(() => split.Quantize(new float[128], 64, 2));
        Assert.Throws<ArgumentException>(() => split.Quantize(new float[48], 48, 1));
        Assert.Throws<ArgumentException>(() => new QuantizedActivations(1, 40));
    }

    private static unsafe nint AddressOf(ReadOnlySpan<byte> span)
    {
        fixed (byte* p = span) return (nint)p;
    }
}
