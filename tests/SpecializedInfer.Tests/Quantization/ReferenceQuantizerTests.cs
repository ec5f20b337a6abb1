using SpecializedInfer.Quantization;

namespace SpecializedInfer.Tests.Quantization;

/// <summary>
/// Our quantizers write ggml's bytes: Q8_0, Q4_0 and Q6_K equal <c>quantize_row_*_ref</c> and
/// <c>ggml_quantize_chunk</c> (what llama.cpp's quantizer calls) byte for byte, on weight-like rows and edge blocks.
/// </summary>
public sealed class ReferenceQuantizerTests
{
    public static TheoryData<string> Names => new() { "q8_0", "q4_0", "q6_K" };

    private static (int Id, Func<float[], byte[]> Ours) For(string name) => name switch
    {
        "q8_0" => (GgmlQuants.TypeId.Q8_0, v => ReferenceQuantizer.Q8_0(v)),
        "q4_0" => (GgmlQuants.TypeId.Q4_0, v => ReferenceQuantizer.Q4_0(v)),
        _ => (GgmlQuants.TypeId.Q6_K, v => ReferenceQuantizer.Q6_K(v)),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void Weight_rows_quantize_to_ggmls_bytes(string name)
    {
        var (id, ours) = For(name);
        foreach (var (seed, scale) in new[] { (1, 0.05f), (2, 1f), (3, 1e-3f), (4, 30f) })
        {
            var values = QuantData.Weights(8 * 512, seed, scale);
            AssertBytes(name, GgmlQuants.QuantizeReference(name, id, values), ours(values));
            AssertBytes(name, GgmlQuants.QuantizeChunk(id, values, 8, 512), ours(values));
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Edge_blocks_quantize_to_ggmls_bytes(string name)
    {
        var (id, ours) = For(name);
        var values = QuantData.EdgeBlocks(256);
        AssertBytes(name, GgmlQuants.QuantizeReference(name, id, values), ours(values));
    }

    [Fact]
    public void A_length_that_is_not_whole_blocks_is_refused()
    {
        Assert.Throws<ArgumentException>(() => ReferenceQuantizer.Q8_0(new float[31]));
        Assert.Throws<ArgumentException>(() => ReferenceQuantizer.Q6_K(new float[128]));
    }

    private static void AssertBytes(string name, byte[] expected, byte[] actual)
    {
        var at = QuantData.FirstDifference(expected, actual);
        Assert.True(at < 0, $"{name}: byte {at} is {(at >= 0 && at < actual.Length ? actual[at] : -1)}, ggml writes {(at >= 0 && at < expected.Length ? expected[at] : -1)}");
    }
}
