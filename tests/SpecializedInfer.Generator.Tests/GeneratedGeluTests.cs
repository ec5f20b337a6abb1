using SpecializedInfer.Encoders;
using SpecializedInfer.Generated.Kernels.SpecializedInfer.Generator.Tests.EncoderEngines;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// The GELU a generated encoder fuses into its feed-forward up product, read through that product: one token row whose
/// first input is 1 and the rest 0, so output o is weight (0, o) exactly before the bias (0) and the GELU. The oracle is
/// the reference encoder's GELU (W. J. Cody's erf in double precision); <see cref="FallbackPathTests"/> checks that the
/// Vector256, Vector128 and scalar paths give the same bits as this machine's Vector512 one.
/// </summary>
public sealed class GeneratedGeluTests
{
    private const int Inputs = 384, Outputs = 1536, Rows = 200;

    /// <summary>GELU of <see cref="Rows"/> × 1536 values spread over [−12, 12] (0 among them), through the generated kernel.</summary>
    public static (float[] X, float[] Gelu) OverGrid()
    {
        var values = Enumerable.Range(0, Rows * Outputs).Select(i => (float)(-12.0 + 24.0 * i / (Rows * Outputs - 1))).ToArray();
        var gelu = new float[values.Length];
        var weights = new float[Outputs * Inputs]; // panels of 64 outputs, input-major: output o's weight for input 0 at (o / 64)·64·384 + o % 64
        var x = new float[Inputs];
        x[0] = 1f;
        for (var row = 0; row < Rows; row++)
        {
            for (var o = 0; o < Outputs; o++) weights[o / 64 * 64 * Inputs + o % 64] = values[row * Outputs + o];
            MiniLmFullKernels.MatMul384x1536Gelu(x, ref weights[0], new float[Outputs], gelu.AsSpan(row * Outputs, Outputs), 1, 0, Outputs, new float[64]);
        }
        return (values, gelu);
    }

    /// <summary>A digest of the GELU bits over the grid: the child processes of <see cref="FallbackPathTests"/> print it.</summary>
    public static string Digest() =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(OverGrid().Gelu.AsSpan())));

    [Fact]
    public void Gelu_is_within_1_5e_6_of_the_exact_one()
    {
        var (x, gelu) = OverGrid();
        var worst = 0.0;
        for (var i = 0; i < x.Length; i++)
        {
            var exact = 0.5 * x[i] * (1.0 + GeluErf.Erf(x[i] / Math.Sqrt(2.0)));
            worst = Math.Max(worst, Math.Abs(gelu[i] - exact));
        }
        Assert.True(worst <= 1.5e-6, $"worst {worst:E2}");
    }
}
