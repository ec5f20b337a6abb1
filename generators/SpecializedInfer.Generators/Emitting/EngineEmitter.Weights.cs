namespace SpecializedInfer.Generators.Emitting;

// How the steps and heads reach the weights: LayerWeights, then the accessors of the engine's weight layout
// (AlignedCopyLayout, MappedLayout, QuantizedLayout), which also writes how they are bound, copied or repacked.

public sealed partial class EngineEmitter
{
    /// <summary>The layout's LayerWeights type(s) (one layer's tensors, built per step on the stack), then its accessors.</summary>
    private void WriteWeightAccess()
    {
        _layout.WriteLayerWeightsTypes(_s);
        _s.Line();
        _layout.WriteAccessors(_s, _ops);
    }
}
