using System.Text.Json;
using SpecializedInfer.Cli;
using SpecializedInfer.Encoders;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Encoders;

/// <summary><c>si eval</c> on MiniLM with a depth-3 plan, its figures recomputed here from the encoders' embeddings.</summary>
[Collection(MiniLmCollection.Name)]
public sealed class EncoderEvalCommandTests(MiniLm m)
{
    [Fact]
    public void Eval_of_a_depth_3_plan_reports_cosine_and_recall_as_computed_here()
    {
        // A slice of the project's corpus and queries keeps the test short: 80 sentences, 12 queries.
        var eval = Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "eval");
        var corpus = File.ReadAllLines(Path.Combine(eval, "corpus.txt")).Take(80).ToArray();
        var queries = File.ReadAllLines(Path.Combine(eval, "queries.txt")).Take(12).ToArray();
        var corpusPath = Path.Combine(m.Directory_, "corpus80.txt");
        var queriesPath = Path.Combine(m.Directory_, "queries12.txt");
        File.WriteAllLines(corpusPath, corpus);
        File.WriteAllLines(queriesPath, queries);
        var plan = m.Plan("depth3", "\"order\": [0, 1, 2]");
        var json = Path.Combine(m.Directory_, "depth3.json");

        var (code, text, err) = Cli.Si.Run("eval", "--model", m.GgufPath, "--plan", plan, "--prompts", queriesPath, "--text", corpusPath, "--json", json);
        Assert.True(code == ExitCodes.Success, err);
        Assert.Contains("80 corpus sentences", text);
        Assert.Contains("12 queries", text);
        Assert.Contains("recall@10 of the full model's nearest neighbours", text);
        Assert.Contains("3 steps [0 1 2]", text);

        // The same figures from the encoders directly, measured in double here.
        var depth3 = new BertEncoder(m.Weights, BertManifest.LoadPlan(plan, m.Weights.Config));
        var texts = corpus.Concat(queries).ToArray();
        var full = m.Encoder.Embed(texts);
        var shallow = depth3.Embed(texts);
        static double Cos(float[] a, float[] b)
        {
            double dot = 0, na = 0, nb = 0;
            for (var i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
            return dot / Math.Sqrt(na * nb);
        }
        var cosines = texts.Select((_, i) => Cos(shallow[i], full[i])).ToArray();
        List<int> Top(float[][] e, int q) =>
            [.. Enumerable.Range(0, corpus.Length).OrderByDescending(i => Cos(e[corpus.Length + q], e[i])).ThenBy(i => i).Take(10)];
        var recall = Enumerable.Range(0, queries.Length).Average(q => Top(full, q).Intersect(Top(shallow, q)).Count() / 10.0);

        using var report = JsonDocument.Parse(File.ReadAllBytes(json));
        var root = report.RootElement;
        Assert.Equal(cosines.Average(), root.GetProperty("meanCosine").GetDouble(), 6);
        Assert.Equal(cosines.Min(), root.GetProperty("minCosine").GetDouble(), 6);
        Assert.Equal(recall, root.GetProperty("recall").GetDouble(), 12);
        Assert.Equal(3.0, root.GetProperty("meanSteps").GetDouble());
        // Three of six layers: MiniLM was not trained for truncation, and its layer-3 embeddings are far from the final ones.
        Assert.InRange(root.GetProperty("meanCosine").GetDouble(), 0.1, 0.9);
        Assert.True(root.GetProperty("speed").GetProperty("plan").GetProperty("sentencesPerSecond").GetDouble() > 0);
    }
}
