using SpecializedInfer.Analysis;
using SpecializedInfer.Models;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Tests.Analysis;

/// <summary>
/// Every figure of <see cref="LayerAnalysis"/> on a tiny synthetic model, against the same figure computed here in
/// double precision from the model file (<see cref="DoubleLlama"/>), without the engine or the analysis' helpers.
/// </summary>
public sealed class LayerAnalysisTests : IClassFixture<LayerAnalysisTests.Fixture>
{
    public sealed class Fixture : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("si-analysis-").FullName;

        public Fixture()
        {
            Path = System.IO.Path.Combine(_dir, "tiny.gguf");
            SyntheticModel.Write(new SyntheticModelSpec
            {
                Name = "tiny", Dim = 32, HiddenDim = 48, Layers = 4, Heads = 4, KvHeads = 2, VocabSize = 400, ContextLength = 64,
                TiedOutput = false, Seed = 7,
            }, Path);
            var random = new Random(3);
            Text = Enumerable.Range(0, 41).Select(_ => random.Next(1, 400)).ToArray();
            Windows = TextWindows.Split(Text, 16);
            Sequences = [Enumerable.Range(0, 9).Select(_ => random.Next(1, 400)).ToArray(), Enumerable.Range(0, 12).Select(_ => random.Next(1, 400)).ToArray()];
            using var weights = LlamaWeights.Load(Path);
            Report = LayerAnalysis.Run(weights, Sequences, Windows, new LayerAnalysisOptions { BlockSize = 2, LacoThreshold = 0.5, LacoMaxLayers = 3 });
            Model = DoubleLlama.Load(Path);
        }

        public string Path { get; }
        public int[] Text { get; }
        public List<int[]> Windows { get; }
        public List<int[]> Sequences { get; }
        public LayerAnalysisReport Report { get; }
        public DoubleLlama Model { get; }

        public void Dispose()
        {
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }
    }

    private readonly Fixture _f;
    private readonly DoubleLlama _m;
    private readonly LayerAnalysisReport _r;

    public LayerAnalysisTests(Fixture fixture)
    {
        _f = fixture;
        _m = fixture.Model;
        _r = fixture.Report;
    }

    private static double Cos(double[] a, double[] b) =>
        a.Zip(b, (x, y) => x * y).Sum() / Math.Sqrt(a.Sum(x => x * x) * b.Sum(y => y * y));

    private double Perplexity(IReadOnlyList<DoubleLlama.Step> steps)
    {
        var (nll, count) = _m.Nll(steps, _f.Windows);
        return Math.Exp(nll / count);
    }

    private List<DoubleLlama.Step> Without(params int[] layers) =>
        Enumerable.Range(0, _m.Layers).Where(l => !layers.Contains(l)).Select(l => new DoubleLlama.Step(_m.Blocks[l])).ToList();

    private static void Close(double expected, double actual, double relative = 1e-4) =>
        Assert.True(Math.Abs(expected - actual) <= relative * Math.Abs(expected), $"expected {expected}, got {actual}");

    private static void Near(double expected, double actual, double absolute = 2e-5) =>
        Assert.True(Math.Abs(expected - actual) <= absolute, $"expected {expected}, got {actual}");

    /// <summary>Per state pair (i, j): mean cosine and angular distance over every token; angular distance of the last tokens.</summary>
    private (double Cos, double AngleAll, double AngleLast) Pair(int i, int j)
    {
        var all = new List<double>();
        var last = new List<double>();
        foreach (var sequence in _f.Sequences)
        {
            var (states, _) = _m.Run(_m.Full, sequence);
            for (var t = 0; t < sequence.Length; t++)
            {
                var c = Cos(states[t][i], states[t][j]);
                all.Add(c);
                if (t == sequence.Length - 1) last.Add(c);
            }
        }
        return (all.Average(), all.Average(c => Math.Acos(c) / Math.PI), last.Average(c => Math.Acos(c) / Math.PI));
    }

    [Fact]
    public void The_full_models_perplexity_is_the_double_precision_one()
    {
        Close(Perplexity(_m.Full), _r.Full.Perplexity);
        Assert.Equal(_f.Text.Length - 3, _r.Predictions); // windows of 16, 16 and 9 tokens predict 15 + 15 + 8
        Assert.Equal(21, _r.StateTokens);
    }

    [Fact]
    public void Block_influence_and_angular_distance_per_layer_and_per_block()
    {
        for (var l = 0; l < _m.Layers; l++)
        {
            var (cos, angleAll, angleLast) = Pair(l, l + 1);
            Near(1 - cos, _r.PerLayer[l].BlockInfluence);
            Near(angleAll, _r.PerLayer[l].AngularDistanceAll);
            Near(angleLast, _r.PerLayer[l].AngularDistanceLast);
        }
        Assert.Equal(3, _r.PerBlock.Count);
        foreach (var b in _r.PerBlock)
        {
            var (cos, angleAll, angleLast) = Pair(b.First, b.First + 2);
            Near(1 - cos, b.BlockInfluence);
            Near(angleAll, b.AngularDistanceAll);
            Near(angleLast, b.AngularDistanceLast);
        }
    }

    [Fact]
    public void Angular_distance_for_every_span()
    {
        Assert.Equal(4 + 3 + 2 + 1, _r.AngularDistances.Count);
        foreach (var a in _r.AngularDistances)
        {
            var (_, angleAll, angleLast) = Pair(a.Layer, a.Layer + a.N);
            Near(angleAll, a.AllTokens);
            Near(angleLast, a.LastToken);
        }
    }

    [Fact]
    public void Perplexity_without_a_layer_its_attention_or_its_feed_forward()
    {
        for (var l = 0; l < _m.Layers; l++)
        {
            Close(Perplexity(Without(l)), _r.PerLayer[l].PerplexityWithoutLayer);
            var noAttention = _m.Full.Select((s, i) => i == l ? s with { Attention = false } : s).ToList();
            Close(Perplexity(noAttention), _r.PerLayer[l].PerplexityWithoutAttention);
            var noFeedForward = _m.Full.Select((s, i) => i == l ? s with { FeedForward = false } : s).ToList();
            Close(Perplexity(noFeedForward), _r.PerLayer[l].PerplexityWithoutFeedForward);
        }
        foreach (var b in _r.PerBlock) Close(Perplexity(Without(b.First, b.First + 1)), b.PerplexityWithoutBlock);
    }

    [Fact]
    public void Sleb_removes_the_layer_leaving_the_lowest_nll_each_round()
    {
        var gone = new List<int>();
        var expected = new List<(int Layer, double Perplexity)>();
        while (gone.Count < _m.Layers - 1)
        {
            var best = Enumerable.Range(0, _m.Layers).Except(gone)
                .Select(l => (Layer: l, Perplexity: Perplexity(Without([.. gone, l])))).MinBy(c => c.Perplexity);
            gone.Add(best.Layer);
            expected.Add(best);
        }
        Assert.Equal(expected.Select(e => e.Layer), _r.Sleb.Select(s => s.Removed));
        foreach (var (e, s) in expected.Zip(_r.Sleb)) Close(e.Perplexity, s.Perplexity);
        Assert.Equal([3, 2, 1], _r.Sleb.Select(s => s.LayersLeft));
    }

    [Fact]
    public void Weight_cosine_of_every_layer_pair_per_tensor_kind()
    {
        string[] kinds = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"];
        Assert.Equal(kinds, _r.WeightSimilarity.Select(w => w.Kind));
        for (var k = 0; k < kinds.Length; k++)
            for (var i = 0; i < _m.Layers; i++)
                for (var j = 0; j < _m.Layers; j++)
                    Near(Cos(_m.Blocks[i].All[k], _m.Blocks[j].All[k]), _r.WeightSimilarity[k].Cosine[i][j], 1e-12);
        var top = _r.SharingCandidates[0];
        var means = new List<(int, int, double)>();
        for (var i = 0; i < _m.Layers; i++)
            for (var j = i + 1; j < _m.Layers; j++)
                means.Add((i, j, new[] { 1, 2, 3, 4, 6, 7, 8 }.Average(k => Cos(_m.Blocks[i].All[k], _m.Blocks[j].All[k]))));
        var best = means.MaxBy(m => m.Item3);
        Assert.Equal((best.Item1, best.Item2), (top.LayerA, top.LayerB));
        Near(best.Item3, top.MeanMatrixCosine, 1e-12);
        Assert.Equal(6, _r.SharingCandidates.Count);
    }

    [Fact]
    public void Laco_merges_final_state_cosine_and_perplexity()
    {
        Assert.Equal(3 + 2, _r.Laco.Count); // merges of 2 layers from 0, 1, 2; of 3 from 0, 1
        var fullFinal = _f.Sequences.SelectMany(s => _m.Run(_m.Full, s).States.Select(p => p[^1])).ToList();
        foreach (var c in _r.Laco)
        {
            var steps = Enumerable.Range(0, _m.Layers).Where(l => l <= c.First || l >= c.First + c.Count)
                .Select(l => new DoubleLlama.Step(l == c.First ? _m.Merged(c.First, c.Count) : _m.Blocks[l])).ToList();
            var final = _f.Sequences.SelectMany(s => _m.Run(steps, s).States.Select(p => p[^1])).ToList();
            var cosine = final.Zip(fullFinal, Cos).Average();
            Near(cosine, c.FinalStateCosine);
            Assert.Equal(cosine >= 0.5, c.Kept);
            Close(Perplexity(steps), c.Perplexity);
        }
    }
}
