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
            var adapted = _heads[h].Adapter is { } a ? $"the adapter {Literals.Xml(a.Weight)}, then " : "";
            _s.Line($"/// <summary>Exit head {h} (plan: exits after step {string.Join(", ", at)}): {adapted}RMSNorm with {Literals.Xml(_heads[h].Norm)}, then {Literals.Xml(_heads[h].Output)}, into the logits.</summary>");
            using (_s.Block($"private void ExitHead{h}()"))
            {
                var input = "_x";
                if (_heads[h].Adapter is { } adapter)
                {
                    _s.Line($"// Adapter: _xa = {Literals.Comment(adapter.Weight)} · RMSNorm(_x; {Literals.Comment(adapter.Norm)}){(adapter.Bias is { } bias ? $" + {Literals.Comment(bias)}" : "")}, as the reference engine computes it.");
                    _s.Line($"_exitAdapter{h}.Apply(_x, _xb, _xa);");
                    input = "_xa";
                }
                _s.Line($"{norm}({input}, ExitNorm{h}, _xb);");
                _layout.WriteHeadProduct(_s, _ops, $"ExitOutput{h}", "_xb", "_logits", null);
            }
            _s.Line();
        }
    }

    /// <summary>Session fields for the exit heads' adapters (plan: a head's "adapter"), and the adapted state they write.</summary>
    private void WriteAdapterFields()
    {
        var adapted = Enumerable.Range(0, _heads.Count).Where(h => _heads[h].Adapter is not null).ToList();
        if (adapted.Count == 0) return;
        _s.Line($"private readonly {Models}.ExitAdapterWeights {string.Join(", ", adapted.Select(h => $"_exitAdapter{h}"))}; // dim × dim maps before exit heads");
        _s.Line("private readonly float[] _xa = new float[Dim]; // an exit head's adapted state");
    }

    /// <summary>
    /// Binds the adapters per session: F32 tensors stay in the file mapping (no copy), and an adapter is dim² values,
    /// so even a converted one is small beside the session's KV cache.
    /// </summary>
    private void WriteAdapterBinding()
    {
        for (var h = 0; h < _heads.Count; h++)
            if (_heads[h].Adapter is { } a)
                _s.Line($"_exitAdapter{h} = weights.BindExitAdapter({PlanLiterals.ExitAdapterLiteral(a)});");
    }
}
