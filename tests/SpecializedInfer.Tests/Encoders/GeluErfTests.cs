using MathNet.Numerics;
using SpecializedInfer.Encoders;

namespace SpecializedInfer.Tests.Encoders;

/// <summary>The erf behind the encoder's exact GELU, against MathNet.Numerics' implementation.</summary>
public sealed class GeluErfTests
{
    [Fact]
    public void Erf_equals_mathnet_across_every_interval()
    {
        for (var x = -7.0; x <= 7.0; x += 0.001953125)
            Assert.True(Math.Abs(GeluErf.Erf(x) - SpecialFunctions.Erf(x)) < 1e-14, $"erf({x})");
    }

    [Fact]
    public void Gelu_is_x_times_half_one_plus_erf()
    {
        foreach (var x in new[] { -12f, -3.5f, -0.4f, 0f, 1e-8f, 0.46875f, 1f, 2.5f, 9f })
            Assert.Equal((float)(0.5 * x * (1 + SpecialFunctions.Erf(x / Math.Sqrt(2)))), GeluErf.Apply(x), 6);
    }
}
