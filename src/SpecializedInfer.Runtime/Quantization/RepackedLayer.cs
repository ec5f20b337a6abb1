using SpecializedInfer.Models;

namespace SpecializedInfer.Quantization;

/// <summary>
/// One layer's matrices as a generated engine with quantized weights multiplies them (<see cref="RepackedMatrix"/>:
/// Q8_0/Q4_0 repacked into tiles, anything else as floats); its norms stay where <see cref="LlamaLayerWeights"/> has
/// them. Made once per engine at load; sessions share it.
/// </summary>
public sealed class RepackedLayer
{
    public RepackedLayer(LlamaLayerWeights layer)
    {
        Weights = layer;
        Query = RepackedMatrix.Of(layer.Query);
        Key = RepackedMatrix.Of(layer.Key);
        Value = RepackedMatrix.Of(layer.Value);
        Output = RepackedMatrix.Of(layer.Output);
        Gate = RepackedMatrix.Of(layer.Gate);
        Up = RepackedMatrix.Of(layer.Up);
        Down = RepackedMatrix.Of(layer.Down);
    }

    /// <summary>The layer as bound (its norms are read from here).</summary>
    public LlamaLayerWeights Weights { get; }

    public RepackedMatrix Query { get; }
    public RepackedMatrix Key { get; }
    public RepackedMatrix Value { get; }
    public RepackedMatrix Output { get; }
    public RepackedMatrix Gate { get; }
    public RepackedMatrix Up { get; }
    public RepackedMatrix Down { get; }
}
