using System.Linq;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

// How the steps and heads reach the weights: LayerWeights, then the accessors of the engine's weight layout
// (AlignedCopyLayout, MappedLayout), which also writes how they are bound and copied.

public sealed partial class EngineEmitter
{
    /// <summary>LayerWeights (one layer's tensors as spans, built per step on the stack), then the layout's accessors.</summary>
    private void WriteWeightAccess()
    {
        var tensors = WeightLayout.LayerTensors;
        _s.Line("/// <summary>One layer's tensors as spans; built per step on the stack.</summary>");
        using (_s.Block("private readonly ref struct LayerWeights"))
        {
            _s.Line($"public readonly {FloatReadOnlySpan} {string.Join(", ", tensors)};");
            _s.Line();
            using (_s.Block($"public LayerWeights({string.Join(", ", tensors.Select(k => $"{FloatReadOnlySpan} {WeightLayout.Camel(k)}"))})"))
                foreach (var k in tensors) _s.Line($"{k} = {WeightLayout.Camel(k)};");
        }
        _s.Line();
        _layout.WriteAccessors(_s);
    }
}
