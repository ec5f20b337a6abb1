using SpecializedInfer.Engine;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Analysis;

/// <summary>
/// Which layers matter, measured with the reference engine on one loaded model (every plan shares its mapping):
/// <list type="bullet">
/// <item>ShortGPT's Block Influence and Gromov et al.'s angular distance, from the full model's residual stream over
/// the state sequences;</item>
/// <item>the text's perplexity with each layer removed, and with only its attention or only its feed-forward removed
/// (plans with <c>prune</c>, <c>skipAttention</c>, <c>skipFeedForward</c>), and with each block of n layers removed;</item>
/// <item>SLEB's greedy order: repeatedly remove the layer whose removal leaves the lowest NLL;</item>
/// <item>weight similarity of every layer pair per tensor kind, and LaCo merges (plans with <c>merge</c>) kept when the
/// final states stay close to the full model's.</item>
/// </list>
/// </summary>
public static class LayerAnalysis
{
    /// <param name="weights">the model, every layer bound</param>
    /// <param name="stateSequences">token sequences the hidden-state measures run over</param>
    /// <param name="windows">the text's perplexity windows (<see cref="TextWindows"/>)</param>
    /// <param name="options">block size and LaCo settings</param>
    /// <param name="progress">receives each measurement as it completes</param>
    public static LayerAnalysisReport Run(LlamaWeights weights, IReadOnlyList<int[]> stateSequences, IReadOnlyList<int[]> windows,
        LayerAnalysisOptions? options = null, IProgress<AnalysisProgress>? progress = null)
    {
        options ??= new LayerAnalysisOptions();
        var layers = weights.Config.Layers;
        if (stateSequences.Count == 0 || stateSequences.Any(s => s.Length == 0)) throw new ArgumentException("Every state sequence needs tokens.");
        if (windows.Count == 0) throw new ArgumentException("No perplexity windows.");
        if (options.BlockSize < 1) throw new ArgumentOutOfRangeException($"The block size must be at least 1, not {options.BlockSize}.", innerException: null);
        var blockSize = Math.Min(options.BlockSize, layers);
        var lacoSpans = Enumerable.Range(2, Math.Max(0, Math.Min(options.LacoMaxLayers, layers) - 1)).ToList();
        var total = 1 + 1 + 3 * layers + (layers - blockSize + 1) + layers * (layers - 1) / 2 + 1 + lacoSpans.Sum(m => layers - m + 1);
        var done = 0;
        void Step(string phase) => progress?.Report(new AnalysisProgress(phase, ++done, total));

        TextNll Nll(LayerPlan plan) => Nll2(ExecutionSchedule.Resolve(plan, layers));
        TextNll Nll2(ExecutionSchedule schedule)
        {
            using var engine = new ReferenceEngine(weights, schedule);
            return TextPerplexity.Measure(engine, windows);
        }
        static IReadOnlyList<int> Layers(IEnumerable<int> l) => l.ToArray();
        // A plan that removes every layer has nothing to measure.
        TextNll? Without(IEnumerable<int> removed)
        {
            var set = removed.ToList();
            return set.Count >= layers ? null : Nll(new LayerPlan { Prune = Layers(set) });
        }

        // The full model's residual stream.
        var geometry = new StateGeometry(layers + 1);
        var finals = new List<float[]>();
        using (var full = new ReferenceEngine(weights))
            foreach (var sequence in stateSequences)
            {
                var states = HiddenStates.Record(full, sequence);
                geometry.Add(states);
                for (var t = 0; t < states.Positions; t++) finals.Add(states.State(t, layers).ToArray());
            }
        Step("hidden states");
        var fullNll = Nll2(ExecutionSchedule.Full(layers));
        Step("perplexity");

        var perLayer = new List<LayerImportance>();
        for (var l = 0; l < layers; l++)
        {
            var removed = Without([l]);
            Step("layers removed");
            var noAttention = Nll(new LayerPlan { SkipAttention = Layers([l]) });
            Step("layers removed");
            var noFeedForward = Nll(new LayerPlan { SkipFeedForward = Layers([l]) });
            Step("layers removed");
            perLayer.Add(new LayerImportance(l, 1 - geometry.MeanCosine(l, l + 1), geometry.MeanAngleAll(l, l + 1), geometry.MeanAngleLast(l, l + 1),
                removed?.Perplexity ?? double.NaN, noAttention.Perplexity, noFeedForward.Perplexity));
        }

        var perBlock = new List<BlockImportance>();
        for (var l = 0; l + blockSize <= layers; l++)
        {
            var removed = Without(Enumerable.Range(l, blockSize));
            Step("blocks removed");
            perBlock.Add(new BlockImportance(l, blockSize, 1 - geometry.MeanCosine(l, l + blockSize), geometry.MeanAngleAll(l, l + blockSize),
                geometry.MeanAngleLast(l, l + blockSize), removed?.Perplexity ?? double.NaN));
        }

        var angular = new List<AngularDistance>();
        for (var n = 1; n <= layers; n++)
            for (var l = 0; l + n <= layers; l++)
                angular.Add(new AngularDistance(l, n, geometry.MeanAngleAll(l, l + n), geometry.MeanAngleLast(l, l + n)));

        var sleb = SlebOrder(weights, windows, () => Step("SLEB"));

        var similarity = WeightSimilarity.Measure(weights);
        Step("weight similarity");

        var laco = new List<LacoCandidate>();
        foreach (var count in lacoSpans)
            for (var first = 0; first + count <= layers; first++)
            {
                var schedule = ExecutionSchedule.Resolve(new LayerPlan { Merge = new[] { new LayerMerge(first, count) }.ToArray() }, layers);
                using var merged = new ReferenceEngine(weights, schedule);
                double cosines = 0;
                var token = 0;
                foreach (var sequence in stateSequences)
                {
                    var states = HiddenStates.Record(merged, sequence);
                    for (var t = 0; t < states.Positions; t++) cosines += HiddenStates.Cosine(states.State(t, states.StatesPerPosition - 1), finals[token++]);
                }
                var cosine = cosines / token;
                laco.Add(new LacoCandidate(first, count, cosine, cosine >= options.LacoThreshold, TextPerplexity.Measure(merged, windows).Perplexity));
                Step("LaCo merges");
            }

        return new LayerAnalysisReport(layers, options with { BlockSize = blockSize }, geometry.Sequences, (int)geometry.Tokens, windows.Count, fullNll.Predictions,
            fullNll, perLayer, perBlock, angular, sleb, similarity, WeightSimilarity.Candidates(similarity), laco);
    }

    /// <summary>
    /// SLEB's greedy order (Song et al. 2024): each round removes the layer whose removal, after the earlier ones,
    /// leaves the lowest NLL on <paramref name="windows"/>, until one layer is left. <c>si analyze</c> reports it and
    /// <c>si plan</c> prunes along it. <paramref name="measured"/> is called after each of the L(L+1)/2 − 1 measurements.
    /// </summary>
    public static IReadOnlyList<SlebStep> SlebOrder(LlamaWeights weights, IReadOnlyList<int[]> windows, Action? measured = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (windows.Count == 0) throw new ArgumentException("No perplexity windows.");
        var layers = weights.Config.Layers;
        var sleb = new List<SlebStep>();
        var gone = new List<int>();
        while (gone.Count < layers - 1)
        {
            (int Layer, TextNll Nll)? best = null;
            foreach (var l in Enumerable.Range(0, layers).Except(gone))
            {
                var plan = new LayerPlan { Prune = gone.Append(l).ToArray() };
                using var engine = new ReferenceEngine(weights, ExecutionSchedule.Resolve(plan, layers));
                var nll = TextPerplexity.Measure(engine, windows);
                measured?.Invoke();
                if (best is null || nll.NllSum < best.Value.Nll.NllSum) best = (l, nll);
            }
            gone.Add(best!.Value.Layer);
            sleb.Add(new SlebStep(best.Value.Layer, layers - gone.Count, best.Value.Nll.MeanNll, best.Value.Nll.Perplexity));
        }
        return sleb;
    }
}
