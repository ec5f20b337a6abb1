namespace SpecializedInfer.Engine;

/// <summary>
/// Sees the residual stream after each executed layer: the hook that layer-importance measurement and exit
/// calibration build on. Called synchronously from the forward pass; the span is only valid during the call.
/// </summary>
public interface ILayerObserver
{
    /// <param name="position">Sequence position of the token being evaluated.</param>
    /// <param name="step">Index of the executed step (equals <paramref name="layer"/> for the plain schedule).</param>
    /// <param name="layer">The layer whose output this is.</param>
    /// <param name="hidden">The hidden state (residual stream) after the layer.</param>
    void OnLayerOutput(int position, int step, int layer, ReadOnlySpan<float> hidden);
}
