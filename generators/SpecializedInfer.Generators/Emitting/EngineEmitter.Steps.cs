using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

using static SpecializedInfer.Generators.Emitting.TypeRefs;

// The forward pass of one position, one method per schedule step: attention then feed-forward, every kernel call
// with the step's shapes, under a comment naming the plan's decision for the step.

public sealed partial class EngineEmitter
{
    /// <summary>Why the step is what it is, in the plan's words, and the shapes it runs.</summary>
    private string Decision(ScheduleStep st)
    {
        var parts = new List<string>();
        var unpruned = Enumerable.Range(0, _m.Layers).Where(l => !_schedule.PrunedLayers.Contains(l) && !IsMergedAway(l)).ToList();
        var inOrder = _steps.Select(s => s.Layer).SequenceEqual(unpruned);
        var repeat = _steps.Take(st.Index).Count(s => s.Layer == st.Layer);
        var text = $"Step {st.Index}: layer {st.Layer}";
        if (st.WeightsOf != st.Layer)
        {
            text += $" running with layer {st.WeightsOf}'s weights";
            parts.Add($"share {st.Layer}<-{st.WeightsOf}");
        }
        if (repeat > 0) parts.Add($"order repeats layer {st.Layer} (run {repeat + 1}, with its own KV cache)");
        else if (!inOrder) parts.Add($"order[{st.Index}] = {st.Layer}");
        else if (st.WeightsOf == st.Layer) parts.Add("layer in order" + (_schedule.Merges.Count == 0 ? _schedule.PrunedLayers.Count == 0 ? "" : " after pruning" : _schedule.PrunedLayers.Count == 0 ? " after merging" : " after pruning and merging"));
        if (!st.RunsAttention) parts.Add($"skipAttention {st.Layer}: feed-forward only, no KV slot");
        if (!st.RunsFeedForward) parts.Add($"skipFeedForward {st.Layer}: attention only");
        if (_schedule.MergeInto(st.WeightsOf) is { } merge) parts.Add($"merge {merge.First}-{merge.First + merge.Count - 1}: layer {st.WeightsOf}'s weights are the merged ones");
        if (st.Index >= _depth) parts.Add($"decodeDepth {_depth}: prompt tokens only");
        if (st.Skip is { } k)
            parts.Add($"skip layer {k.Layer} when {(k.Test == SkipTest.Cosine ? "cos" : $"probe {k.Probe}")} ≥ {Literals.Double(k.Threshold)}");
        if (st.ExitAfter is { } e) parts.Add($"exit check after it, {e.Test.Describe()}{(e.Head is null ? "" : $", head {(e.Head.Adapter is { } a ? $"{a.Weight} + " : "")}{e.Head.Norm} + {e.Head.Output}")}");
        return Literals.Comment($"{text} (plan: {string.Join("; ", parts)}). {Shapes()}.");
    }

    /// <summary>
    /// Step{i}(pos): the step's layer at one position, its K/V into the step's own cache slot. A step whose attention
    /// or feed-forward the plan drops (skipAttention, skipFeedForward) runs only the other half, and one without
    /// attention has no cache slot (ScheduleStep.HasKvCache).
    /// </summary>
    private void WriteStep(ScheduleStep st)
    {
        var slot = st.Index;
        var layer = st.WeightsOf;
        _s.Line($"// {Decision(st)}");
        using (_s.Block($"private void Step{slot}(int pos)"))
        {
            _s.Line($"var w = Layer{st.WeightsOf}();");
            if (st.RunsAttention)
            {
                _s.Line($"// Attention: RMSNorm, q/k/v projections{(_m.AttentionBias ? " plus their biases" : "")}, RoPE at pos, K/V into step {slot}'s slot, attention over 0..pos,");
                _s.Line("// output projection added to the residual stream.");
                _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(_x, w.AttentionNorm, _xb);");
                _layout.WriteProducts(_s, _ops, layer, "_xb", null, ("Query", "_q"), ("Key", "_k"), ("Value", $"ValueRow(_values{slot}, pos)"));
                if (Pairs > 0)
                {
                    _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.Heads, _m.HeadDim)}(_q, _rope.Cos(pos), _rope.Sin(pos));");
                    _s.Line($"{Kernels}.{KernelEmitter.RopeName(_m.KvHeads, _m.HeadDim)}(_k, _rope.Cos(pos), _rope.Sin(pos));");
                }
                else _s.Line("// rotaryDims 0: no rotary embedding.");
                _s.Line($"{Kernels}.{KernelEmitter.StoreKeyName(_m.KvDim)}(_k, _keys{slot}, pos, _capacity);");
                WriteAttention(_s, _ops, slot, batched: false);
                _layout.WriteProducts(_s, _ops, layer, "_att", null, ("Output", "_x"));
            }
            else _s.Line(NoAttention);
            if (st.RunsFeedForward)
            {
                _s.Line("// Feed-forward: RMSNorm, gate and up projections, SwiGLU, down projection added to the residual stream.");
                _s.Line($"{Kernels}.{KernelEmitter.RmsNormName(_m.Dim)}(_x, w.FeedForwardNorm, _xb);");
                _layout.WriteProducts(_s, _ops, layer, "_xb", null, ("Gate", "_gate"), ("Up", "_up"));
                _s.Line($"{Kernels}.{KernelEmitter.SwiGluName(_m.HiddenDim)}(_gate, _up);");
                _layout.WriteProducts(_s, _ops, layer, "_gate", null, ("Down", "_x"));
            }
            else _s.Line(NoFeedForward);
        }
        _s.Line();
    }

    /// <summary>
    /// Step <paramref name="slot"/>'s attention at pos (or at positions pos..pos+n−1 of the batch rows): an op whose
    /// threads take whole KV heads (with the query heads sharing them).
    /// </summary>
    internal static void WriteAttention(SourceWriter s, ParallelOps ops, int slot, bool batched)
    {
        var op = ops.Add($"Step {slot}'s attention{(batched ? " for n positions" : "")}", b =>
        {
            b.Line(ParallelOps.KvHeadsOf("h"));
            b.Line(batched
                ? $"for (var j = 0; j < n; j++) {Kernels}.{KernelEmitter.AttentionName}(BatchRow(_bq, j, QueryDim), _keys{slot}, _values{slot}, _scores, BatchRow(_batt, j, QueryDim), pos + j, _capacity, h.From, h.To);"
                : $"{Kernels}.{KernelEmitter.AttentionName}(_q, _keys{slot}, _values{slot}, _scores, _att, pos, _capacity, h.From, h.To);");
        });
        s.Line(ops.Call(op, "pos", batched ? "n" : "1"));
    }

    /// <summary>The comment standing where a dropped attention would run (shared with the batched pass).</summary>
    internal const string NoAttention = "// No attention (plan: skipAttention): the residual stream passes to the feed-forward unchanged; no K/V slot.";

    /// <summary>The comment standing where a dropped feed-forward would run.</summary>
    internal const string NoFeedForward = "// No feed-forward (plan: skipFeedForward): the residual stream leaves the step as the attention left it.";
}
