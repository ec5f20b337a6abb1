using SpecializedInfer.Gguf;
using SpecializedInfer.Models;

namespace SpecializedInfer.Generator.Tests.Support;

/// <summary>
/// Models with an exit head: a copy of a test model plus the tensors exit.norm.weight [dim] and exit.output.weight
/// [vocab × dim]. The head is the model's own, sharpened (norm × 1.25, output × 1.5), so its logits differ from the
/// final head's everywhere: an engine that ignored the plan's head, or bound the wrong tensor, fails equivalence.
/// Also an exit adapter (exit.adapter.norm.weight, exit.adapter.weight [dim × dim], exit.adapter.bias): a seeded
/// perturbation of the identity, so a plan's adapter head differs from the model's head it feeds.
/// </summary>
public static class ExitHeadModels
{
    public const string Norm = "exit.norm.weight", Output = "exit.output.weight";
    public const string AdapterNorm = "exit.adapter.norm.weight", AdapterWeight = "exit.adapter.weight", AdapterBias = "exit.adapter.bias";

    private static readonly Dictionary<string, string> Written = [];
    private static readonly Lazy<string> Folder = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("si-exit-heads-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return dir;
    });

    /// <summary>The path of <paramref name="name"/>.gguf: <paramref name="source"/> with an exit head, written once per process.</summary>
    public static string PathFor(string name, string source)
    {
        lock (Written)
        {
            if (Written.TryGetValue(name, out var done)) return done;
            var path = Path.Combine(Folder.Value, name + ".gguf");
            Write(source, path);
            Written[name] = path;
            return path;
        }
    }

    public static void Write(string sourcePath, string destinationPath)
    {
        using var source = GgufFile.Open(sourcePath);
        using var weights = LlamaWeights.Load(sourcePath, layersToBind: []);
        var writer = new GgufWriter();
        foreach (var (key, value) in source.Metadata) writer.Add(key, value);
        foreach (var t in source.Tensors) writer.AddTensor(t.Name, t.Dimensions, t.Type, source.GetBytes(t));
        var norm = weights.OutputNorm.Span.ToArray();
        for (var i = 0; i < norm.Length; i++) norm[i] *= 1.25f;
        var output = weights.Output.Span.ToArray();
        for (var i = 0; i < output.Length; i++) output[i] *= 1.5f;
        writer.AddTensor(Norm, [weights.Config.Dim], norm);
        writer.AddTensor(Output, [weights.Config.Dim, weights.Config.VocabSize], output);
        var dim = weights.Config.Dim;
        var random = new Random(20261130);
        float Noise(double scale) => (float)((random.NextDouble() * 2 - 1) * scale);
        var adapter = new float[dim * dim];
        for (var i = 0; i < dim; i++)
            for (var j = 0; j < dim; j++) adapter[i * dim + j] = (i == j ? 1f : 0f) + Noise(0.15);
        writer.AddTensor(AdapterNorm, [dim], Enumerable.Range(0, dim).Select(_ => 1f + Noise(0.2)).ToArray());
        writer.AddTensor(AdapterWeight, [dim, dim], adapter);
        writer.AddTensor(AdapterBias, [dim], Enumerable.Range(0, dim).Select(_ => Noise(0.3)).ToArray());
        writer.Write(destinationPath);
    }
}
