using System.Numerics.Tensors;
using Microsoft.Extensions.AI;
using SpecializedInfer.Encoders;
using SpecializedInfer.Evaluation;

namespace SpecializedInfer.Tests.Encoders;

/// <summary>
/// Per-sentence early exit (<c>embeddingCosine</c>) against a computation written here: the encoder cut after each
/// layer gives every sentence's pooled output layer by layer (the embedding layer's output is computed here from the
/// weights, in double), the cosines between successive layers say where each sentence must stop, and a sentence that
/// stops must carry exactly the embedding of the encoder cut there.
/// </summary>
[Collection(MiniLmCollection.Name)]
public sealed class EncoderExitTests(MiniLm m)
{
    private static double Cos(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }

    /// <summary>The mean over a sentence's tokens of the embedding layer's output (token + type 0 + position, LayerNorm), in double.</summary>
    private float[] EmbeddingLayerMean(string text)
    {
        var w = m.Weights;
        var dim = w.Config.Dim;
        var ids = m.Encoder.Tokenizer.Encode(text);
        var sum = new double[dim];
        for (var p = 0; p < ids.Length; p++)
        {
            var e = Enumerable.Range(0, dim).Select(d => (double)w.TokenEmbedding[ids[p] * dim + d] + w.TokenTypes[d] + w.Positions[p * dim + d]).ToArray();
            var mean = e.Average();
            var variance = e.Average(v => (v - mean) * (v - mean));
            for (var d = 0; d < dim; d++)
                sum[d] += (e[d] - mean) / Math.Sqrt(variance + w.Config.NormEps) * w.EmbeddingNorm.Scale[d] + w.EmbeddingNorm.Shift[d];
        }
        return [.. sum.Select(v => (float)(v / ids.Length))];
    }

    [Fact]
    public async Task Each_sentence_stops_where_its_pooled_output_stops_moving_with_the_cut_encoders_embedding()
    {
        var texts = Sentences.Varied(40, seed: 31);
        var layers = m.Weights.Config.Layers;
        // pooled[k][i]: text i pooled (not normalized) after the first k + 1 layers; k = −1 is the embedding layer.
        var cut = Enumerable.Range(1, layers).Select(d => BertManifest.LoadPlan(m.Plan($"first{d}", $"\"order\": [{string.Join(", ", Enumerable.Range(0, d))}]"), m.Weights.Config)).ToArray();
        var pooled = new Dictionary<int, float[][]> { [-1] = [.. texts.Select(EmbeddingLayerMean)] };
        for (var k = 0; k < layers; k++) pooled[k] = new BertEncoder(m.Weights, cut[k], normalize: false).Embed(texts);
        var moved = Enumerable.Range(0, layers - 1).Select(k => texts.Select((_, i) => Cos(pooled[k][i], pooled[k - 1][i])).ToArray()).ToArray();

        // A threshold between two of the observed cosines after layers 1-3, so sentences stop at different layers and
        // none sits within float rounding of the threshold.
        var observed = moved.Take(4).SelectMany(c => c).Order().ToArray();
        var at = Enumerable.Range(observed.Length / 2, observed.Length / 2 - 1).First(j => observed[j + 1] - observed[j] > 1e-4);
        var threshold = (observed[at] + observed[at + 1]) / 2;
        var exits = string.Join(", ", Enumerable.Range(0, layers - 1).Select(s =>
            $$"""{ "afterStep": {{s}}, "criterion": "embeddingCosine", "threshold": {{threshold.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}} }"""));
        var plan = BertManifest.LoadPlan(m.Plan("exits", $"\"exits\": [ {exits} ]"), m.Weights.Config);
        var encoder = new BertEncoder(m.Weights, plan);

        var steps = new int[texts.Length];
        var embeddings = encoder.Embed(texts, steps, batchSize: 8);
        var cutEmbeddings = cut.Select(s => new BertEncoder(m.Weights, s).Embed(texts)).ToArray();
        for (var i = 0; i < texts.Length; i++)
        {
            // The first exit point (after step s, comparing with step s − 1) whose cosine reaches the threshold.
            var stop = Enumerable.Range(0, layers - 1).FirstOrDefault(s => moved[s][i] >= threshold, layers - 1);
            Assert.True(stop + 1 == steps[i], $"'{texts[i]}' ran {steps[i]} steps; the cosines {string.Join(", ", moved.Select(c => c[i].ToString("F5")))} say {stop + 1}");
            Assert.Equal(cutEmbeddings[stop][i], embeddings[i]);
        }
        Assert.True(steps.Distinct().Count() >= 3, $"sentences stopped after {string.Join(", ", steps.Distinct().Order())} steps only");

        // The embedding generator reports the same steps and embeddings.
        using var generator = new BertEmbeddingGenerator(encoder, "minilm", batchSize: 5);
        var generated = await generator.GenerateAsync(texts);
        Assert.Equal(steps, generated.Select(e => (int)e.AdditionalProperties![EmbeddingEvaluator.StepsProperty]!));
        Assert.Equal(embeddings, generated.Select(e => e.Vector.ToArray()));
    }

    [Fact]
    public void The_encoder_plan_docs_plans_md_shows_loads_and_lets_sentences_leave()
    {
        var shown = Plans.DocumentedPlanTests.EncoderPlanBlocks();
        Assert.NotEmpty(shown);
        foreach (var (json, i) in shown.Select((j, i) => (j, i)))
        {
            var path = Path.Combine(m.Directory_, $"documented{i}.plan.json");
            m.ManifestPath();
            File.WriteAllText(path, json);
            var encoder = new BertEncoder(m.Weights, BertManifest.LoadPlan(path, m.Weights.Config));
            var steps = new int[24];
            encoder.Embed(Sentences.Varied(24, seed: 4), steps);
            Assert.Contains(steps, s => s < encoder.Schedule.Steps.Count);
        }
    }
}
