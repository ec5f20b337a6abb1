using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.DynamicDepth;

/// <summary>
/// Shared by the dynamic-depth tests: plan files in a temp directory, the token sequence they feed, and the
/// independent oracle pieces (a head, softmax measures, cosines and probe scores written here in double precision,
/// not taken from the engine or ExitMeasures).
/// </summary>
public abstract class DynamicDepthTestBase : IDisposable
{
    protected readonly string Dir = Directory.CreateTempSubdirectory("si-dyn-").FullName;
    protected static string Stories => ModelLocator.Find("stories260K.gguf");
    protected static readonly int[] Prompt = [1, 403, 407, 261, 378, 13];
    protected static readonly int[] Continuation = [32, 263, 293, 45, 400, 118, 99, 7, 260, 270, 300, 12, 51, 77, 140, 301, 66, 90, 311, 25, 140, 9, 388, 61];

    /// <summary>Writes a plan (and the manifest it names) into the temp directory.</summary>
    protected string Plan(string json)
    {
        File.Copy(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json"), Path.Combine(Dir, "stories260K.model.json"), overwrite: true);
        var path = Path.Combine(Dir, $"p{Guid.NewGuid():N}.plan.json");
        File.WriteAllText(path, "{ \"manifest\": \"stories260K.model.json\"" + (json.Length > 0 ? ", " + json : "") + " }");
        return path;
    }

    /// <summary>Writes a probe sidecar next to the plans; returns the name plans refer to it by.</summary>
    protected string Probe(float bias, float[] weights)
    {
        var name = $"q{Guid.NewGuid():N}.probe.json";
        File.WriteAllText(Path.Combine(Dir, name), Planning.ProbeReader.Write(bias, weights));
        return name;
    }

    protected static string F(double d) => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Hidden state after every executed (position, step), recorded through the observer.</summary>
    protected sealed class Trace : ILayerObserver
    {
        public readonly Dictionary<(int Position, int Step), float[]> States = new();
        public void OnLayerOutput(int position, int step, int layer, ReadOnlySpan<float> hidden) => States[(position, step)] = hidden.ToArray();
        public bool Ran(int position, int step) => States.ContainsKey((position, step));
    }

    /// <summary>Runs the prompt then each continuation token as a generated token; logits after each generated token.</summary>
    protected static List<float[]> Generate(IInferenceSession session, int count, Trace? trace = null)
    {
        session.Observer = trace;
        session.Forward(Prompt);
        var logits = new List<float[]>();
        for (var i = 0; i < count; i++) logits.Add(session.Forward(Continuation[i]).ToArray());
        return logits;
    }

    /// <summary>The full model's hidden states for the prompt plus <paramref name="count"/> generated continuation tokens.</summary>
    protected static (Trace Trace, List<float[]> Logits) FullRun(int count)
    {
        using var full = ReferenceEngine.Load(Stories);
        using var session = full.CreateSession(64);
        var trace = new Trace();
        var logits = Generate(session, count, trace);
        return (trace, logits);
    }

    /// <summary>RMSNorm with <paramref name="norm"/>, then the output matrix, in double precision.</summary>
    protected static double[] HeadLogits(ReadOnlySpan<float> hidden, ReadOnlySpan<float> norm, WeightTensor output, float eps)
    {
        var x = Normalize(hidden, eps);
        for (var i = 0; i < x.Length; i++) x[i] *= norm[i];
        var logits = new double[output.Rows];
        for (var r = 0; r < output.Rows; r++)
        {
            var row = output.Row(r);
            double dot = 0;
            for (var i = 0; i < x.Length; i++) dot += row[i] * x[i];
            logits[r] = dot;
        }
        return logits;
    }

    /// <summary>h / sqrt(mean(h²) + eps).</summary>
    protected static double[] Normalize(ReadOnlySpan<float> h, float eps)
    {
        double ss = 0;
        foreach (var v in h) ss += (double)v * v;
        var scale = 1 / Math.Sqrt(ss / h.Length + eps);
        var x = new double[h.Length];
        for (var i = 0; i < h.Length; i++) x[i] = h[i] * scale;
        return x;
    }

    protected static double[] Softmax(double[] logits)
    {
        var max = logits.Max();
        var e = logits.Select(l => Math.Exp(l - max)).ToArray();
        var sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    protected static double MaxProbability(double[] logits) => Softmax(logits).Max();

    protected static double Margin(double[] logits)
    {
        var p = Softmax(logits).OrderByDescending(v => v).ToArray();
        return p[0] - p[1];
    }

    protected static double Entropy(double[] logits) => -Softmax(logits).Where(v => v > 0).Sum(v => v * Math.Log(v));

    protected static int ArgMax(double[] logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    protected static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }

    protected static double ProbeScore(ReadOnlySpan<float> hidden, float bias, float[] weights, float eps)
    {
        var x = Normalize(hidden, eps);
        double z = bias;
        for (var i = 0; i < x.Length; i++) z += weights[i] * x[i];
        return 1 / (1 + Math.Exp(-z));
    }

    /// <summary>A threshold between the two middle values, so about half pass and none sits on the boundary.</summary>
    protected static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(d => d).ToArray();
        return (v[(v.Length - 1) / 2] + v[v.Length / 2 + (v.Length % 2 == 0 ? 0 : 1)]) / 2;
    }

    protected static float[] Direction(int dim, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, dim).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    protected static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tolerance = 2e-4)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance, $"index {i}: expected {expected[i]}, got {actual[i]}");
    }

    /// <summary>
    /// Copies the model and adds an exit head: RMSNorm weight = output_norm × <paramref name="normScale"/>, output
    /// matrix = output × <paramref name="outputScale"/>, named <c>exit.norm</c> and <c>exit.output</c>.
    /// </summary>
    protected string ModelWithExitHead(float normScale, float outputScale)
    {
        var path = Path.Combine(Dir, $"head{normScale}_{outputScale}.gguf");
        using var source = GgufFile.Open(Stories);
        var writer = new GgufWriter();
        foreach (var (key, value) in source.Metadata) writer.Add(key, value);
        foreach (var t in source.Tensors) writer.AddTensor(t.Name, t.Dimensions, t.Type, source.GetBytes(t));
        var norm = source.Tensors.Single(t => t.Name == "output_norm.weight");
        var output = source.Tensors.Single(t => t.Name == "output.weight");
        writer.AddTensor("exit.norm", norm.Dimensions, source.GetFloat32(norm.Name).ToArray().Select(v => v * normScale).ToArray());
        writer.AddTensor("exit.output", output.Dimensions, source.GetFloat32(output.Name).ToArray().Select(v => v * outputScale).ToArray());
        writer.Write(path);
        return path;
    }

    public virtual void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
