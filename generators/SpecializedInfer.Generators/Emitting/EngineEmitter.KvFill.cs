using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

// How steps a token did not run still get its K/V: propagation from the state it stopped with (rule 4), the K/V of
// a dynamically skipped step, and kvFill recompute (RecomputeEmitter). Which of them an engine needs is the decision
// model's (DecodeDecisions: its leaves and skips).

public sealed partial class EngineEmitter
{
    /// <summary>The KV-fill members the decision model's leaves and skips call: PropagateFrom{i}, SkipKv{i}, and recompute's.</summary>
    private void WriteKvFill()
    {
        foreach (var from in _decisions.PropagationStarts) WritePropagate(from);
        foreach (var skip in _decisions.Skips.Where(k => _steps[k.Step].HasKvCache)) WriteSkipKv(skip);
        if (_recompute.Enabled) _recompute.WriteMembers();
    }

    /// <summary>PropagateFrom{from}: the K/V of steps <paramref name="from"/>.. at this position, from the state the token stopped with.</summary>
    private void WritePropagate(int from)
    {
        _s.Line($"// Rule 4 (kvFill {_schedule.KvFill}): a generated token that stopped after step {from - 1} never ran steps {from}..{_steps.Length - 1}. Each");
        _s.Line("// gets, at this position, the K/V its layer would project from the hidden state the token stopped with.");
        var dropped = _steps.Skip(from).Where(s => !s.HasKvCache).Select(s => s.Index).ToList();
        if (dropped.Count > 0)
            _s.Line($"// {Literals.Numbered("Step", dropped, "runs", "run")} no attention (plan: skipAttention): no slot, so nothing is propagated into it.");
        using (_s.Block($"private void PropagateFrom{from}(int pos)"))
            foreach (var group in _steps.Skip(from).Where(s => s.HasKvCache).GroupBy(s => s.WeightsOf))
                WritePropagateGroup(group.Key, group.ToList());
        _s.Line();
    }

    /// <summary>One projection for the steps that share layer <paramref name="weightsOf"/>'s weights, stored in each step's slot.</summary>
    private void WritePropagateGroup(int weightsOf, List<ScheduleStep> members)
    {
        var first = members[0];
        _s.Line(members.Count == 1
            ? $"// Step {first.Index} (layer {first.Layer}, layer {weightsOf}'s weights)."
            : $"// Steps {string.Join(", ", members.Select(m => m.Index))} all use layer {weightsOf}'s weights: one projection, stored in each slot.");
        using (_s.Block())
        {
            WriteKvProjection(weightsOf, first.Index);
            foreach (var m in members)
            {
                if (m != first) _s.Line($"ValueRow(_values{first.Index}, pos).CopyTo(ValueRow(_values{m.Index}, pos));");
                WriteStoreKey(m.Index);
            }
        }
    }

    /// <summary>SkipKv{i}: the K/V a skipped step stores at this position, what its layer would project from the state entering it.</summary>
    private void WriteSkipKv(SkipDecision skip)
    {
        var step = _steps[skip.Step];
        _s.Line($"// Step {step.Index} is skippable (plan: skip layer {skip.Rule.Layer}): skipped, it still owes deeper tokens its K/V at this position,");
        _s.Line("// projected from the state entering it (RMSNorm with its attention_norm, K/V projections, RoPE), exactly what it would have stored.");
        using (_s.Block($"private void SkipKv{step.Index}(int pos)"))
        {
            WriteKvProjection(step.WeightsOf, step.Index);
            WriteStoreKey(step.Index);
        }
        _s.Line();
    }

    /// <summary>
    /// The K/V layer <paramref name="weightsOf"/> projects from <c>_x</c> at <c>pos</c>: RMSNorm with its attention norm, the
    /// key into <c>_k</c> (rotated), the value straight into step <paramref name="valueSlot"/>'s row.
    /// </summary>
    private void WriteKvProjection(int weightsOf, int valueSlot)
    {
        _s.Line($"var w = Layer{weightsOf}();");
        _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(_x, w.AttentionNorm, _xb);");
        _layout.WriteProducts(_s, _ops, weightsOf, "_xb", null, ("Key", "_k"), ("Value", $"ValueRow(_values{valueSlot}, pos)"));
        if (Pairs > 0) _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.KvHeads, _m.HeadDim)}(_k, _rope.Cos(pos), _rope.Sin(pos));");
    }

    /// <summary>The rotated key in <c>_k</c> into step <paramref name="slot"/>'s (transposed) key cache at <c>pos</c>.</summary>
    private void WriteStoreKey(int slot) => _s.Line($"{Kernels}.{KernelEmitter.StoreKeyName(_m.KvDim)}(_k, _keys{slot}, pos, _capacity);");
}
