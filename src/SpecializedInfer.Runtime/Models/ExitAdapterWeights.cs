using System.Numerics.Tensors;

namespace SpecializedInfer.Models;

/// <summary>
/// The tensors of an exit head's adapter (<see cref="Planning.ExitAdapter"/>) and the map itself, written once for
/// every executor: the reference engine and generated engines call <c>Apply</c>, so the adapted state is the
/// same bits in both, and only the head after it runs each engine's own kernels. Its dim² multiply-adds are a small
/// part of a head evaluation (vocab × dim), so it is not specialized per topology.
/// </summary>
public sealed class ExitAdapterWeights(WeightTensor norm, WeightTensor weight, WeightTensor? bias, float normEps)
{
    public WeightTensor Norm { get; } = norm;

    /// <summary>[dim × dim], row i giving output i.</summary>
    public WeightTensor Weight { get; } = weight;

    public WeightTensor? Bias { get; } = bias;

    /// <summary>
    /// Writes Weight · RMSNorm(<paramref name="hidden"/>; Norm) + Bias into <paramref name="destination"/>, using
    /// <paramref name="scratch"/> (dim long) for the normalized state. Reads only the tensors: thread-safe.
    /// </summary>
    public void Apply(ReadOnlySpan<float> hidden, Span<float> scratch, Span<float> destination) =>
        Apply(Norm.Span, Weight.Span, Bias is { } b ? b.Span : default, normEps, hidden, scratch, destination);

    /// <summary>
    /// The map on plain arrays (an empty <paramref name="bias"/> for none): what <see cref="Apply(ReadOnlySpan{float}, Span{float}, Span{float})"/>
    /// computes, for tools that hold a fitted adapter in memory (si learn-exits measures its heads with it).
    /// </summary>
    public static void Apply(ReadOnlySpan<float> norm, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, float normEps,
        ReadOnlySpan<float> hidden, Span<float> scratch, Span<float> destination)
    {
        var dim = norm.Length;
        var x = hidden[..dim];
        var normed = scratch[..dim];
        var scale = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / dim + normEps);
        TensorPrimitives.Multiply(x, scale, normed);
        TensorPrimitives.Multiply(normed, norm, normed);
        for (var i = 0; i < dim; i++) destination[i] = TensorPrimitives.Dot(weight.Slice(i * dim, dim), normed);
        if (!bias.IsEmpty) TensorPrimitives.Add(destination[..dim], bias[..dim], destination[..dim]);
    }
}
