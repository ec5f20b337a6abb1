using SpecializedInfer.Engine;

namespace SpecializedInfer.Tests.Engine;

/// <summary>
/// The F32 prompt GEMM against products written here: a double-precision sum (how close), and the one chain of fused
/// multiply-adds over k in order that the kernel promises (the exact bits), for every count of position vectors, tiles
/// and single rows, panels and k blocks, residual adds and a padded row stride; and the bits' independence of how the
/// positions are chunked and the rows split.
/// </summary>
public sealed class PromptGemmTests
{
    /// <summary>Rows: a single tile, tiles plus 1-5 single rows, several panels (48 rows) and a partial one.</summary>
    public static TheoryData<int, int, int> Shapes() => new()
    {
        { 6, 16, 1 }, { 13, 40, 5 }, { 100, 300, 16 }, { 97, 129, 17 }, { 50, 256, 33 }, { 64, 200, 48 }, { 101, 385, 49 }, { 11, 7, 64 }, { 96, 768, 64 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Each_output_is_one_fused_chain_over_k_in_order_and_close_to_the_double_product(int rows, int cols, int count)
    {
        var stride = cols + 3; // rows that do not start on a line, and floats between rows the product must not read
        var w = Random(rows * stride, seed: rows + cols);
        var x = Random(count * cols, seed: count);
        var transposed = new float[cols * PromptGemm.PaddedPositions(count)];
        PromptGemm.Transpose(x, count, cols, transposed);
        var residual = Random(count * rows, seed: 7);

        var y = new float[count * rows];
        PromptGemm.Multiply(w, stride, cols, transposed, count, y, rows, 0, rows, add: false);
        var added = (float[])residual.Clone();
        PromptGemm.Multiply(w, stride, cols, transposed, count, added, rows, 0, rows, add: true);

        var worst = 0.0;
        for (var p = 0; p < count; p++)
            for (var r = 0; r < rows; r++)
            {
                var chain = 0f;
                var exact = 0.0;
                for (var k = 0; k < cols; k++)
                {
                    chain = MathF.FusedMultiplyAdd(w[r * stride + k], x[p * cols + k], chain);
                    exact += (double)w[r * stride + k] * x[p * cols + k];
                }
                Assert.True(BitConverter.SingleToInt32Bits(chain) == BitConverter.SingleToInt32Bits(y[p * rows + r]),
                    $"row {r}, position {p}: {y[p * rows + r]:R}, the chain gives {chain:R}");
                Assert.Equal(residual[p * rows + r] + chain, added[p * rows + r]);
                worst = Math.Max(worst, Math.Abs(y[p * rows + r] - exact));
            }
        // Sums of up to 768 products of values in [-1, 1): the float chain's rounding stays far below this.
        Assert.True(worst < 1e-4, $"{worst} from the double-precision product");
    }

    [Fact]
    public void Bits_do_not_depend_on_the_chunking_or_the_split_of_rows()
    {
        const int rows = 70, cols = 300, total = 64;
        var w = Random(rows * cols, seed: 3);
        var x = Random(total * cols, seed: 4);
        var whole = Product(w, rows, cols, x, 0, total, [(0, rows)]);
        foreach (var (start, count) in new[] { (0, 1), (5, 19), (24, 40), (17, 33), (63, 1) })
        {
            var part = Product(w, rows, cols, x, start, count, [(0, 16), (16, 48), (48, 53), (53, rows)]);
            for (var i = 0; i < part.Length; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(whole[start * rows + i]), BitConverter.SingleToInt32Bits(part[i]));
        }
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(8, 8)]
    [InlineData(13, 37)]
    [InlineData(33, 768)]
    [InlineData(64, 172)]
    public void A_transposition_split_into_position_ranges_is_the_plain_one_with_zero_padding(int count, int cols)
    {
        var x = Random(count * cols, seed: cols);
        var ld = PromptGemm.PaddedPositions(count);
        var expected = new float[cols * ld];
        for (var k = 0; k < cols; k++)
            for (var p = 0; p < count; p++) expected[k * ld + p] = x[p * cols + k];
        var whole = Enumerable.Repeat(float.NaN, cols * ld).ToArray(); // padding left unwritten would stay NaN
        PromptGemm.Transpose(x, count, cols, whole);
        Assert.Equal(expected, whole);
        var split = Enumerable.Repeat(float.NaN, cols * ld).ToArray();
        for (var from = 0; from < count; from += 16) PromptGemm.Transpose(x, count, cols, split, from, Math.Min(count, from + 16));
        PromptGemm.Transpose(x, count, cols, split, count, count); // an empty part writes nothing
        Assert.Equal(expected, split);
    }

    [Theory]
    [InlineData(6, 16, 1)]
    [InlineData(13, 40, 17)]
    [InlineData(97, 129, 33)]
    [InlineData(172, 64, 64)]
    public void The_fused_gate_and_up_product_is_silu_of_one_chain_times_the_other_written_transposed(int rows, int cols, int count)
    {
        var stride = cols + 1;
        var gate = Random(rows * stride, seed: rows);
        var up = Random(rows * stride, seed: rows + 1);
        var x = Random(count * cols, seed: count);
        var ld = PromptGemm.PaddedPositions(count);
        var transposed = new float[cols * ld];
        PromptGemm.Transpose(x, count, cols, transposed);
        var hidden = Enumerable.Repeat(float.NaN, rows * ld).ToArray();
        PromptGemm.MultiplySwiGlu(gate, up, stride, cols, transposed, count, hidden, 0, rows);
        for (var r = 0; r < rows; r++)
            for (var p = 0; p < ld; p++)
            {
                float g = 0f, u = 0f;
                for (var k = 0; k < cols && p < count; k++)
                {
                    g = MathF.FusedMultiplyAdd(gate[r * stride + k], x[p * cols + k], g);
                    u = MathF.FusedMultiplyAdd(up[r * stride + k], x[p * cols + k], u);
                }
                var expected = g / (1 + MathF.Exp(-g)) * u; // silu(g)·u; the padding positions' inputs are zero, so theirs is 0
                Assert.True(Math.Abs(hidden[r * ld + p] - expected) <= 1e-6f * (1 + Math.Abs(expected)),
                    $"row {r}, position {p}: {hidden[r * ld + p]:R}, silu·up gives {expected:R}");
            }

        // Rows split as the threads split them (whole tiles of 16), and in one call: the same bits.
        var split = new float[rows * ld];
        for (var from = 0; from < rows; from += 16) PromptGemm.MultiplySwiGlu(gate, up, stride, cols, transposed, count, split, from, Math.Min(rows, from + 16));
        Assert.Equal(hidden.Select(BitConverter.SingleToInt32Bits), split.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void Shapes_that_do_not_fit_are_refused_with_a_sentence()
    {
        var e = Assert.Throws<ArgumentException>(() => PromptGemm.Transpose(new float[65 * 4], 65, 4, new float[80 * 4]));
        Assert.Equal("A prompt product takes 1 to 64 positions, not 65.", e.Message);
        e = Assert.Throws<ArgumentException>(() => PromptGemm.Multiply(new float[8 * 4], 4, 4, new float[4 * 16], 2, new float[2 * 8], 8, 0, 9, add: false));
        Assert.StartsWith("Rows 0 to 9 of a 4-column product over 2 positions do not fit the spans given", e.Message);
    }

    private static float[] Product(float[] w, int rows, int cols, float[] x, int start, int count, (int From, int To)[] parts)
    {
        var transposed = new float[cols * PromptGemm.PaddedPositions(count)];
        PromptGemm.Transpose(x.AsSpan(start * cols, count * cols), count, cols, transposed);
        var y = new float[count * rows];
        foreach (var (from, to) in parts) PromptGemm.Multiply(w, cols, cols, transposed, count, y, rows, from, to, add: false);
        return y;
    }

    private static float[] Random(int length, int seed)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (var i = 0; i < length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }
}
