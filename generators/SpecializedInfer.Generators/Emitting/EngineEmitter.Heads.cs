using System.Linq;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

// The heads (the model's, and each exit head the plan names) and the weights the steps and heads read: LayerWeights,
// then the weight layout's accessors.

public sealed partial class EngineEmitter
{
    private void WriteHeads()
    {
        var head = $"{Kernels}.{_layout.Head.MatVecName}";
        var norm = $"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}";
        _s.Line("/// <summary>The head: final RMSNorm with output_norm, then the output matrix, into the logits.</summary>");
        using (_s.Block("private void Head()"))
        {
            _s.Line($"{norm}(_x, OutputNorm, _xb);");
            _s.Line($"{head}(Output, _xb, _logits);");
        }
        _s.Line();
        for (var h = 0; h < _heads.Count; h++)
        {
            var at = _steps.Where(st => st.ExitAfter?.Head == _heads[h]).Select(st => st.Index);
            _s.Line($"/// <summary>Exit head {h} (plan: exits after step {string.Join(", ", at)}): RMSNorm with {Xml(_heads[h].Norm)}, then {Xml(_heads[h].Output)}, into the logits.</summary>");
            using (_s.Block($"private void ExitHead{h}()"))
            {
                _s.Line($"{norm}(_x, ExitNorm{h}, _xb);");
                _s.Line($"{head}(ExitOutput{h}, _xb, _logits);");
            }
            _s.Line();
        }
    }

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
