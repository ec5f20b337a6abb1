using System.Numerics.Tensors;
using SpecializedInfer.Models;

namespace SpecializedInfer.Learning;

/// <summary>
/// Logits of a hidden state through a head (RMSNorm weight, output matrix) with the reference engine's arithmetic:
/// the same single-precision operations in the same order, so a decision made here on a traced state (which token
/// an exit's head picks, its max probability) is the one the engine makes on that state.
/// </summary>
public sealed class HeadProjection
{
    private readonly float[] _norm;
    private readonly float[] _output; // [vocab × dim], row-major
    private readonly float[] _normed;
    private readonly float _eps;
    private readonly float[] _adapted;

    public HeadProjection(ReadOnlySpan<float> norm, ReadOnlySpan<float> output, float eps, FittedAdapter? adapter = null)
    {
        if (norm.IsEmpty || output.Length % norm.Length != 0)
            throw new ArgumentException($"An output matrix of {output.Length} values does not have rows of the norm's width {norm.Length}.");
        _norm = norm.ToArray();
        _output = output.ToArray();
        _normed = new float[norm.Length];
        _adapted = new float[norm.Length];
        _eps = eps;
        if (adapter is not null && (adapter.Norm.Length != norm.Length || adapter.Weight.Length != norm.Length * norm.Length || (adapter.Bias.Length != 0 && adapter.Bias.Length != norm.Length)))
            throw new ArgumentException($"An adapter for width {norm.Length} has a norm of {norm.Length}, a {norm.Length} × {norm.Length} matrix and a bias of {norm.Length} or none.");
        Adapter = adapter;
    }

    /// <summary>The adapter in front of the head's norm, if any.</summary>
    public FittedAdapter? Adapter { get; }

    /// <summary>The model's own head: <c>output_norm</c> and the output matrix.</summary>
    public static HeadProjection OfModel(LlamaWeights weights) =>
        new(weights.OutputNorm.Span, weights.Output.Span, weights.Config.NormEps);

    public int Dim => _norm.Length;
    public int Vocab => _output.Length / _norm.Length;

    /// <summary>The RMSNorm weight (for writing the head out).</summary>
    public ReadOnlySpan<float> Norm => _norm;

    /// <summary>The output matrix, [vocab × dim] row-major.</summary>
    public ReadOnlySpan<float> Output => _output;

    /// <summary>Writes the logits of <paramref name="hidden"/> into <paramref name="logits"/> (vocab long). Not thread-safe.</summary>
    public void Logits(ReadOnlySpan<float> hidden, Span<float> logits)
    {
        if (Adapter is { } a)
        {
            ExitAdapterWeights.Apply(a.Norm, a.Weight, a.Bias, _eps, hidden, _normed, _adapted);
            hidden = _adapted;
        }
        var meanSquare = TensorPrimitives.SumOfSquares(hidden) / hidden.Length;
        var scale = 1f / MathF.Sqrt(meanSquare + _eps);
        TensorPrimitives.Multiply(hidden, scale, _normed);
        TensorPrimitives.Multiply(_normed, _norm, _normed);
        var dim = Dim;
        for (var i = 0; i < Vocab; i++) logits[i] = TensorPrimitives.Dot(_output.AsSpan(i * dim, dim), _normed);
    }
}

/// <summary>An exit head's adapter as fitted (<see cref="ExitAdapterWeights"/> computes the map): norm [dim], matrix [dim × dim] row-major, bias [dim] (empty for none).</summary>
public sealed record FittedAdapter(float[] Norm, float[] Weight, float[] Bias);
