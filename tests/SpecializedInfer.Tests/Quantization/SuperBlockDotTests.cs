using System.Buffers.Binary;
using SpecializedInfer.Gguf;
using SpecializedInfer.Quantization;

namespace SpecializedInfer.Tests.Quantization;

/// <summary>
/// The matrix-product arithmetic of llama.cpp's CPU backend for K-quant weights (Q4_K, Q6_K): activations quantized
/// as its <c>quantize_row_q8_K</c> does (byte for byte), the integer super-block sums equal to ggml's (exactly: with
/// unit scales ggml's scalar kernel returns them unrounded), and whole dot products within float rounding of ggml's
/// scalar and SIMD kernels, which add the same integers in other orders.
/// </summary>
public sealed class SuperBlockDotTests
{
    [Fact]
    public void Activations_quantize_to_the_cpu_backends_bytes()
    {
        foreach (var (seed, scale) in new[] { (1, 1f), (2, 0.01f), (3, 300f), (4, 2e-5f) })
        {
            var x = QuantData.Weights(4096, seed, scale);
            AssertBytes(GgmlQuants.QuantizeActivations("q8_K", GgmlQuants.TypeId.Q8_K, x), Ours(x));
        }
        var edges = QuantData.EdgeBlocks(256);
        AssertBytes(GgmlQuants.QuantizeActivations("q8_K", GgmlQuants.TypeId.Q8_K, edges), Ours(edges));
        // The first value of largest magnitude gives the sign of the scale: -3 before 3 and 3 before -3.
        var ties = new float[512];
        ties[5] = -3; ties[9] = 3; ties[1] = 0.4f; ties[256 + 2] = 3; ties[256 + 7] = -3; ties[256 + 8] = 1.5f;
        AssertBytes(GgmlQuants.QuantizeActivations("q8_K", GgmlQuants.TypeId.Q8_K, ties), Ours(ties));
    }

    public static TheoryData<string> WeightTypes => new() { "q4_K", "q6_K" };

    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Integer_sums_equal_ggmls_for_every_quant_pattern(string weights)
    {
        // Raw super-blocks (every scale, minimum and quant pattern) with the float scales set to 1: ggml's scalar
        // kernel then returns its integer sums as they are (all below 2^24), and so must ours.
        var type = Type(weights);
        for (var seed = 0; seed < 200; seed++)
        {
            var w = QuantData.RawBlocks(type, 256, 500 + seed);
            foreach (var at in QuantData.ScaleOffsets(type)) BinaryPrimitives.WriteHalfLittleEndian(w.AsSpan(at, 2), (Half)1);
            var x = Ours(QuantData.Weights(256, 600 + seed, 1f));
            BinaryPrimitives.WriteSingleLittleEndian(x, 1f);
            var generic = GgmlQuants.VecDot(weights + "_q8_K", generic: true, 256, w, x);
            var ours = Dot(weights, w, x, 256);
            Assert.True(Math.Abs(generic) < 1 << 24, $"seed {seed}: {generic} is not exact in a float");
            Assert.Equal(BitConverter.SingleToUInt32Bits(generic), BitConverter.SingleToUInt32Bits(ours));
        }
    }

    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void Dot_products_are_ggmls_within_float_rounding(string weights)
    {
        var id = weights == "q4_K" ? GgmlQuants.TypeId.Q4_K : GgmlQuants.TypeId.Q6_K;
        double worstGeneric = 0, worstSimd = 0;
        foreach (var n in new[] { 256, 768, 2048, 5632 })
            for (var seed = 0; seed < 20; seed++)
            {
                var w = GgmlQuants.QuantizeChunk(id, QuantData.Weights(n, 1000 + seed, 0.05f), 1, n);
                var x = Ours(QuantData.Weights(n, 2000 + seed, 2f));
                var magnitude = Magnitude(weights, w, x, n);
                var ours = Dot(weights, w, x, n);
                // Either order rounds at most (terms) times: 2 per super-block and the 8 lanes' sum.
                var bound = (2 * n / 256 + 8) * Math.Pow(2, -24) * magnitude;
                worstGeneric = Math.Max(worstGeneric, Math.Abs(GgmlQuants.VecDot(weights + "_q8_K", generic: true, n, w, x) - ours) / bound);
                worstSimd = Math.Max(worstSimd, Math.Abs(GgmlQuants.VecDot(weights + "_q8_K", generic: false, n, w, x) - ours) / bound);
            }
        Assert.True(worstGeneric <= 1, $"{weights}: ggml's scalar kernel differs by {worstGeneric:F2} × the rounding bound");
        Assert.True(worstSimd <= 1, $"{weights}: ggml's SIMD kernel differs by {worstSimd:F2} × the rounding bound");
    }

    [Theory]
    [MemberData(nameof(WeightTypes))]
    public void A_row_is_the_definition_computed_here_in_integers(string weights)
    {
        // An independent computation of the definition: the integers from ggml's dequantized values of unit-scale
        // blocks, then super-blocks in order, one fma each with the real scales.
        var type = Type(weights);
        const int n = 1024;
        for (var seed = 0; seed < 10; seed++)
        {
            var w = QuantData.RawBlocks(type, n, 700 + seed);
            var x = Ours(QuantData.Weights(n, 800 + seed, 3f));
            var expected = 0f;
            for (var b = 0; b < n / 256; b++)
            {
                var wb = w.AsSpan(b * (type == GgmlType.Q4_K ? 144 : 210), type == GgmlType.Q4_K ? 144 : 210).ToArray();
                var xb = x.AsSpan(b * 292, 292).ToArray();
                var dx = BinaryPrimitives.ReadSingleLittleEndian(xb);
                float dw = 0, dmin = 0;
                if (type == GgmlType.Q4_K)
                {
                    dw = (float)BinaryPrimitives.ReadHalfLittleEndian(wb);
                    dmin = (float)BinaryPrimitives.ReadHalfLittleEndian(wb.AsSpan(2));
                    BinaryPrimitives.WriteHalfLittleEndian(wb, (Half)1);
                    BinaryPrimitives.WriteHalfLittleEndian(wb.AsSpan(2), (Half)0);
                }
                else
                {
                    dw = (float)BinaryPrimitives.ReadHalfLittleEndian(wb.AsSpan(208));
                    BinaryPrimitives.WriteHalfLittleEndian(wb.AsSpan(208), (Half)1);
                }
                var values = GgmlQuants.Dequantize(weights, wb, 256);
                long s = 0;
                for (var p = 0; p < 256; p++) s += (long)values[p] * (sbyte)xb[4 + p];
                expected = MathF.FusedMultiplyAdd(s, dw * dx, expected);
                if (type == GgmlType.Q4_K)
                {
                    // The minimums: dequantizing with d = 0 and dmin = 1 gives −m_j for every value of sub-block j.
                    BinaryPrimitives.WriteHalfLittleEndian(wb, (Half)0);
                    BinaryPrimitives.WriteHalfLittleEndian(wb.AsSpan(2), (Half)1);
                    var mins = GgmlQuants.Dequantize(weights, wb, 256);
                    long m = 0;
                    for (var p = 0; p < 256; p++) m += (long)-mins[p] * (sbyte)xb[4 + p];
                    expected = MathF.FusedMultiplyAdd(-(float)m, dmin * dx, expected);
                }
            }
            Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(Dot(weights, w, x, n)));
        }
    }

    private static GgmlType Type(string weights) => weights == "q4_K" ? GgmlType.Q4_K : GgmlType.Q6_K;

    private static float Dot(string weights, byte[] w, byte[] x, int n) =>
        weights == "q4_K" ? SuperBlockDot.Q4_K(w, x, n / 256) : SuperBlockDot.Q6_K(w, x, n / 256);

    /// <summary>Σ|w_j·x_j| over the dequantized row and activations.</summary>
    private static double Magnitude(string weights, byte[] w, byte[] x, int n)
    {
        var wf = GgmlQuants.Dequantize(weights, w, n);
        double sum = 0;
        for (var b = 0; b < n / 256; b++)
        {
            var d = BinaryPrimitives.ReadSingleLittleEndian(x.AsSpan(b * 292));
            for (var p = 0; p < 256; p++) sum += Math.Abs((double)wf[b * 256 + p] * d * (sbyte)x[b * 292 + 4 + p]);
        }
        return sum;
    }

    private static byte[] Ours(float[] x)
    {
        var blocks = new byte[SuperBlockActivationQuantizer.Bytes(x.Length)];
        SuperBlockActivationQuantizer.Q8_K(x, blocks);
        return blocks;
    }

    private static void AssertBytes(byte[] expected, byte[] actual)
    {
        var at = QuantData.FirstDifference(expected, actual);
        Assert.True(at < 0, $"byte {at} (super-block {at / 292}, offset {at % 292}) is {(at >= 0 ? actual[at] : -1)}, ggml's backend writes {(at >= 0 ? expected[at] : -1)}");
    }
}
