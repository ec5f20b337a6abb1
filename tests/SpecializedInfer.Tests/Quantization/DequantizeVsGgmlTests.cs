using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tests.Quantization;

/// <summary>
/// Every weight type a llama.cpp file uses is read exactly as ggml reads it: our dequantized floats equal ggml's
/// <c>dequantize_row_*</c> bit for bit, on data quantized by ggml's own quantizer (<c>ggml_quantize_chunk</c>), on
/// edge blocks, and on random blocks (every quant bit pattern, random finite scales).
/// </summary>
public sealed class DequantizeVsGgmlTests
{
    public static TheoryData<string> TypeNames => new(QuantData.Types.Select(t => t.Name));

    private static (GgmlType Type, int Id, string Name) Find(string name) => QuantData.Types.Single(t => t.Name == name);

    [Theory]
    [MemberData(nameof(TypeNames))]
    public void Data_quantized_by_ggml_dequantizes_to_ggmls_floats(string name)
    {
        var (type, id, _) = Find(name);
        const int rows = 6, perRow = 768; // 3 super-blocks per row
        var values = QuantData.Weights(rows * perRow, seed: id);
        var blocks = GgmlQuants.QuantizeChunk(id, values, rows, perRow);
        AssertSame(type, name, blocks, values.Length);
    }

    [Theory]
    [MemberData(nameof(TypeNames))]
    public void Edge_blocks_dequantize_to_ggmls_floats(string name)
    {
        var (type, id, _) = Find(name);
        var edges = QuantData.EdgeBlocks(256);
        var blocks = GgmlQuants.QuantizeChunk(id, edges, edges.Length / 256, 256);
        AssertSame(type, name, blocks, edges.Length);
    }

    [Theory]
    [MemberData(nameof(TypeNames))]
    public void Random_blocks_with_finite_scales_dequantize_to_ggmls_floats(string name)
    {
        var (type, id, _) = Find(name);
        var blocks = QuantData.RawBlocks(type, 256 * 64, seed: 100 + id);
        AssertSame(type, name, blocks, 256 * 64);
    }

    private static void AssertSame(GgmlType type, string name, byte[] blocks, int count)
    {
        var expected = GgmlQuants.Dequantize(name, blocks, count);
        var actual = new float[count];
        GgmlDequantize.ToFloat32(type, blocks, actual);
        var at = QuantData.FirstDifference(QuantData.Bits(expected), QuantData.Bits(actual));
        Assert.True(at < 0, $"{type}: value {at} is {(at >= 0 ? actual[at] : 0):R}, ggml gives {(at >= 0 ? expected[at] : 0):R}");
    }
}
