using SpecializedInfer.Gguf;
using SpecializedInfer.Quantization;

namespace SpecializedInfer.Tests.Quantization;

/// <summary>
/// The matrix-product arithmetic of llama.cpp's CPU backend for Q8_0 and Q4_0 weights: activations quantized as its
/// <c>quantize_row_q8_0</c> does (byte for byte), and dot products equal to ggml's scalar kernels
/// (<c>ggml_vec_dot_*_q8_0_generic</c>) bit for bit; ggml's SIMD kernels differ only by float rounding.
/// </summary>
public sealed class QuantizedDotTests
{
    [Fact]
    public void Activations_quantize_to_the_cpu_backends_bytes()
    {
        foreach (var (seed, scale) in new[] { (1, 1f), (2, 0.01f), (3, 300f) })
        {
            var x = QuantData.Weights(4096, seed, scale);
            AssertBytes(GgmlQuants.QuantizeActivations("q8_0", GgmlQuants.TypeId.Q8_0, x), Ours(x));
        }
        var edges = QuantData.EdgeBlocks(32);
        AssertBytes(GgmlQuants.QuantizeActivations("q8_0", GgmlQuants.TypeId.Q8_0, edges), Ours(edges));
    }

    [Fact]
    public void Activation_ties_round_half_to_even_unlike_the_file_quantizer()
    {
        // amax 127 makes the multiplier exactly 1: x = 2.5 and 3.5 are ties. The backend rounds them to 2 and 4 (even),
        // the reference quantizer that writes files to 3 and 4 (away from zero): the two are not interchangeable.
        var x = new float[32];
        x[0] = 127; x[1] = 2.5f; x[2] = 3.5f; x[3] = -2.5f;
        var backend = GgmlQuants.QuantizeActivations("q8_0", GgmlQuants.TypeId.Q8_0, x);
        AssertBytes(backend, Ours(x));
        Assert.Equal(new sbyte[] { 127, 2, 4, -2 }, backend.Skip(2).Take(4).Select(b => (sbyte)b));
        Assert.Equal(new sbyte[] { 127, 3, 4, -3 }, ReferenceQuantizer.Q8_0(x).Skip(2).Take(4).Select(b => (sbyte)b));
    }

    public static TheoryData<string> WeightTypes => new() { "q8_0", "q4_0" };

    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Dot_products_equal_ggmls_scalar_kernel_bit_for_bit(string weights)
    {
        var id = weights == "q8_0" ? GgmlQuants.TypeId.Q8_0 : GgmlQuants.TypeId.Q4_0;
        var worst = 0.0;
        foreach (var n in new[] { 32, 288, 768, 2048, 5632 })
            for (var seed = 0; seed < 20; seed++)
            {
                var w = GgmlQuants.QuantizeChunk(id, QuantData.Weights(n, 1000 + seed, 0.05f), 1, n);
                var x = Ours(QuantData.Weights(n, 2000 + seed, 2f));
                var magnitude = Magnitude(weights, w, x, n);
                var ours = weights == "q8_0" ? QuantizedDot.Q8_0(w, x, n / 32) : QuantizedDot.Q4_0(w, x, n / 32);
                var generic = GgmlQuants.VecDot(weights + "_q8_0", generic: true, n, w, x);
                Assert.True(BitConverter.SingleToUInt32Bits(generic) == BitConverter.SingleToUInt32Bits(ours),
                    $"{weights}, n = {n}, seed {seed}: {ours:R}, ggml's scalar kernel gives {generic:R}");
                // ggml's AVX kernel sums the blocks in another order: the same number up to float rounding, which is
                // bounded by (blocks) × 2⁻²⁴ × Σ|w·x| for either order.
                var simd = GgmlQuants.VecDot(weights + "_q8_0", generic: false, n, w, x);
                worst = Math.Max(worst, Math.Abs(simd - ours) / magnitude / (n / 32 * Math.Pow(2, -24)));
            }
        Assert.True(worst <= 1, $"{weights}: ggml's SIMD kernel differs by {worst:F2} × the rounding bound");
    }

    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Every_quant_pattern_gives_the_scalar_kernels_sum(string weights)
    {
        // Raw blocks hold quants no quantizer writes (Q8_0's -128), with random finite scales.
        var type = weights == "q8_0" ? GgmlType.Q8_0 : GgmlType.Q4_0;
        const int n = 1024;
        for (var seed = 0; seed < 10; seed++)
        {
            var w = QuantData.RawBlocks(type, n, 300 + seed);
            var x = QuantData.RawBlocks(GgmlType.Q8_0, n, 400 + seed);
            for (var b = 2; b < x.Length; b += 34)
                for (var j = 0; j < 32; j++)
                    if (x[b + j] == 0x80) x[b + j] = 0x81; // activations stay within ±127
            var ours = weights == "q8_0" ? QuantizedDot.Q8_0(w, x, n / 32) : QuantizedDot.Q4_0(w, x, n / 32);
            var generic = GgmlQuants.VecDot(weights + "_q8_0", generic: true, n, w, x);
            Assert.Equal(BitConverter.SingleToUInt32Bits(generic), BitConverter.SingleToUInt32Bits(ours));
        }
    }

    /// <summary>Σ|w_j·x_j| over the dequantized row and activations.</summary>
    private static double Magnitude(string weights, byte[] w, byte[] x, int n)
    {
        var wf = new float[n];
        var xf = new float[n];
        GgmlDequantize.ToFloat32(weights == "q8_0" ? GgmlType.Q8_0 : GgmlType.Q4_0, w, wf);
        GgmlDequantize.ToFloat32(GgmlType.Q8_0, x, xf);
        return wf.Zip(xf).Sum(p => Math.Abs((double)p.First * p.Second));
    }

    private static byte[] Ours(float[] x)
    {
        var blocks = new byte[ActivationQuantizer.Bytes(x.Length)];
        ActivationQuantizer.Q8_0(x, blocks);
        return blocks;
    }

    private static void AssertBytes(byte[] expected, byte[] actual)
    {
        var at = QuantData.FirstDifference(expected, actual);
        Assert.True(at < 0, $"byte {at} (block {at / 34}) is {(at >= 0 ? actual[at] : -1)}, ggml's backend writes {(at >= 0 ? expected[at] : -1)}");
    }
}
