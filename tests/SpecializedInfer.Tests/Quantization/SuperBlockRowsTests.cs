using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Quantization;
using SpecializedInfer.Tests.Support;

namespace SpecializedInfer.Tests.Quantization;

/// <summary>
/// <see cref="SuperBlockDot.Rows"/> (what generated engines run for a K-quant head: four rows at a time, prefetched,
/// where rows are short, as in this file's; a Q6_K row of 8 super-blocks or more one at a time, as the reference does)
/// gives every row the bits of <see cref="QuantizedDot.Row"/> (the reference's row product), for the Q4_K and Q6_K
/// matrices of a Q4_K_M file llama.cpp wrote, over ranges that start and end off a multiple of four.
/// </summary>
public sealed class SuperBlockRowsTests(QuantizedModels models) : IClassFixture<QuantizedModels>
{
    [Fact]
    public void Rows_equal_the_reference_row_products_bit_for_bit()
    {
        using var engine = ReferenceEngine.Load(models.Quantized("k256", "q4_k_m"));
        var layer = engine.Weights.Layer(0);
        var matrices = new[] { layer.Query, layer.Value, layer.Down, engine.Weights.Output };
        Assert.Contains(matrices, m => m.Type == GgmlType.Q4_K);
        Assert.Contains(matrices, m => m.Type == GgmlType.Q6_K);
        foreach (var w in matrices.Where(m => QuantizedDot.UsesSuperBlocks(m.Type)))
        {
            var x = QuantData.Weights(w.Cols, w.Rows, 1.5f);
            var q = new byte[SuperBlockActivationQuantizer.Bytes(w.Cols)];
            SuperBlockActivationQuantizer.Q8_K(x, q);
            foreach (var (from, to) in new[] { (0, w.Rows), (3, w.Rows - 5), (5, 6) })
            {
                var y = new float[w.Rows];
                SuperBlockDot.Rows(w, q, y, from, to);
                for (var r = 0; r < w.Rows; r++)
                {
                    var expected = r >= from && r < to ? QuantizedDot.Row(w.Type, w.QuantizedRow(r), q, w.Cols) : 0f;
                    Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(y[r]),
                        $"{w.Type} {w.Rows}×{w.Cols}, rows {from}..{to}: row {r} is {y[r]:R}, the row product {expected:R}");
                }
            }
        }
    }
}
