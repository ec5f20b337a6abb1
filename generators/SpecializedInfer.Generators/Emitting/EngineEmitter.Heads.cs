using System.Linq;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

// The heads: the model's, and each exit head the plan names.

public sealed partial class EngineEmitter
{
    private void WriteHeads()
    {
        var norm = $"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}";
        _s.Line("/// <summary>The head: final RMSNorm with output_norm, then the output matrix, into the logits.</summary>");
        using (_s.Block("private void Head()"))
        {
            _s.Line($"{norm}(_x, OutputNorm, _xb);");
            _layout.WriteHeadProduct(_s, _ops, "Output", "_xb", "_logits", null);
        }
        _s.Line();
        for (var h = 0; h < _heads.Count; h++)
        {
            var at = _steps.Where(st => st.ExitAfter?.Head == _heads[h]).Select(st => st.Index);
            _s.Line($"/// <summary>Exit head {h} (plan: exits after step {string.Join(", ", at)}): RMSNorm with {Literals.Xml(_heads[h].Norm)}, then {Literals.Xml(_heads[h].Output)}, into the logits.</summary>");
            using (_s.Block($"private void ExitHead{h}()"))
            {
                _s.Line($"{norm}(_x, ExitNorm{h}, _xb);");
                _layout.WriteHeadProduct(_s, _ops, $"ExitOutput{h}", "_xb", "_logits", null);
            }
            _s.Line();
        }
    }
}
