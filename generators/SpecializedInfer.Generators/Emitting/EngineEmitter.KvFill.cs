using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

// How steps a token did not run still get its K/V: propagation from the state it stopped with (rule 4), the K/V of
// a dynamically skipped step, and kvFill recompute. Moved verbatim from EngineEmitter.cs (they are being rewritten
// elsewhere and will replace this file whole), which is why they still open blocks by hand.

public sealed partial class EngineEmitter
{
    /// <summary>The first skipped step of every way a generated token can stop early: after an exit, or at the decode depth.</summary>
    private IEnumerable<int> PropagationStarts()
    {
        var starts = new SortedSet<int>();
        foreach (var st in _steps.Take(_depth))
            if (st.ExitAfter is not null && st.Index + 1 < _steps.Length) starts.Add(st.Index + 1);
        if (_depth < _steps.Length) starts.Add(_depth);
        return starts;
    }

    private void WritePropagate(int from)
    {
        _s.Line($"// Rule 4 (kvFill {_schedule.KvFill}): a generated token that stopped after step {from - 1} never ran steps {from}..{_steps.Length - 1}. Each");
        _s.Line("// gets, at this position, the K/V its layer would project from the hidden state the token stopped with.");
        _s.Open($"private void PropagateFrom{from}(int pos)");
        var groups = _steps.Skip(from).GroupBy(s => s.WeightsOf).ToList();
        foreach (var g in groups)
        {
            var members = g.ToList();
            var first = members[0].Index;
            _s.Line(members.Count == 1
                ? $"// Step {first} (layer {members[0].Layer}, layer {g.Key}'s weights)."
                : $"// Steps {string.Join(", ", members.Select(m => m.Index))} all use layer {g.Key}'s weights: one projection, stored in each slot.");
            _s.OpenBlock();
            _s.Line($"var w = Layer{g.Key}();");
            _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(_x, w.AttentionNorm, _xb);");
            _s.Line($"{Kernels}.{MatVec(_m.KvDim, _m.Dim, false)}(w.Key, _xb, _k);");
            _s.Line($"{Kernels}.{MatVec(_m.KvDim, _m.Dim, false)}(w.Value, _xb, ValueRow(_values{first}, pos));");
            if (Pairs > 0) _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.KvHeads, _m.HeadDim)}(_k, _rope.Cos(pos), _rope.Sin(pos));");
            foreach (var m in members)
            {
                if (m.Index != first) _s.Line($"ValueRow(_values{first}, pos).CopyTo(ValueRow(_values{m.Index}, pos));");
                _s.Line($"{Kernels}.{KernelEmitter.StoreKeyName(_m.KvDim)}(_k, _keys{m.Index}, pos, _capacity);");
            }
            _s.Close();
        }
        _s.Close();
        _s.Line();
    }

    /// <summary>The K/V a skipped step stores at this position: what its layer would project from the state entering it.</summary>
    private void WriteSkipKv(ScheduleStep st)
    {
        _s.Line($"// Step {st.Index} is skippable (plan: skip layer {st.Skip!.Layer}): skipped, it still owes deeper tokens its K/V at this position,");
        _s.Line("// projected from the state entering it (RMSNorm with its attention_norm, K/V projections, RoPE), exactly what it would have stored.");
        _s.Open($"private void SkipKv{st.Index}(int pos)");
        _s.Line($"var w = Layer{st.WeightsOf}();");
        _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(_x, w.AttentionNorm, _xb);");
        _s.Line($"{Kernels}.{MatVec(_m.KvDim, _m.Dim, false)}(w.Key, _xb, _k);");
        _s.Line($"{Kernels}.{MatVec(_m.KvDim, _m.Dim, false)}(w.Value, _xb, ValueRow(_values{st.Index}, pos));");
        if (Pairs > 0) _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.KvHeads, _m.HeadDim)}(_k, _rope.Cos(pos), _rope.Sin(pos));");
        _s.Line($"{Kernels}.{KernelEmitter.StoreKeyName(_m.KvDim)}(_k, _keys{st.Index}, pos, _capacity);");
        _s.Close();
        _s.Line();
    }

    /// <summary>kvFill recompute: parking a stopped token, and running parked positions' missing steps before a token needs them.</summary>
    private void WriteRecompute()
    {
        _s.Line("/// <summary>kvFill recompute: the token at <paramref name=\"pos\"/> stopped before step <paramref name=\"next\"/>; nothing is propagated.</summary>");
        _s.Open("private void Park(int pos, int next)");
        _s.Line("new global::System.ReadOnlySpan<float>(_x).CopyTo(new global::System.Span<float>(_parkedStates, pos * Dim, Dim));");
        _s.Line("_parkedNext[pos] = next;");
        _s.Line("_parked[_parkedCount++] = pos; // positions only grow between rewinds, so the list stays sorted");
        _s.Close();
        _s.Line();
        _s.Line("/// <summary>");
        _s.Line("/// Before a token runs step <paramref name=\"step\"/>, every parked position that has not run it runs its missing steps up to it,");
        _s.Line("/// in position order: each then attends over a cache complete below it, so the token does too. A position that has run every");
        _s.Line("/// step leaves the list.");
        _s.Line("/// </summary>");
        _s.Open("private void CatchUp(int step)");
        _s.Line("var recomputed = 0;");
        _s.Line("var kept = 0;");
        _s.Line("new global::System.ReadOnlySpan<float>(_x).CopyTo(_held);");
        _s.Open("for (var n = 0; n < _parkedCount; n++)");
        _s.Line("var p = _parked[n];");
        _s.Open("if (_parkedNext[p] <= step)");
        _s.Line("var state = new global::System.Span<float>(_parkedStates, p * Dim, Dim);");
        _s.Line("state.CopyTo(_x);");
        _s.Open("for (var s = _parkedNext[p]; s <= step; s++)");
        _s.Line("RunStep(s, p);");
        _s.Line("recomputed++;");
        _s.Close();
        _s.Line("new global::System.ReadOnlySpan<float>(_x).CopyTo(state);");
        _s.Line("_parkedNext[p] = step + 1;");
        _s.Close();
        _s.Line("if (_parkedNext[p] < Steps) _parked[kept++] = p;");
        _s.Close();
        _s.Line("_parkedCount = kept;");
        _s.Line("new global::System.ReadOnlySpan<float>(_held).CopyTo(_x);");
        _s.Line("Statistics.RecordRecomputed(recomputed);");
        _s.Close();
        _s.Line();
        _s.Line("/// <summary>Runs schedule step <paramref name=\"step\"/> for a parked position. The observer is not called: like the reference, it sees");
        _s.Line("/// the steps tokens run when they are evaluated, and recomputation only fills the cache.</summary>");
        _s.Open("private void RunStep(int step, int pos)");
        _s.Open("switch (step)");
        foreach (var st in _steps.Skip(1))
            _s.Line($"case {st.Index}: Step{st.Index}(pos); break;");
        _s.Close();
        _s.Close();
        _s.Line();
    }
}
