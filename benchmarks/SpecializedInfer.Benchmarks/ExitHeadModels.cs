using SpecializedInfer.Engine;
using SpecializedInfer.Learning;
using SpecializedInfer.Tokenization;
using SpecializedInfer.Tracing;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// stories260K with the exit heads <c>si learn-exits</c> fits after steps 1, 2 and 3, with the README's settings
/// (models/eval/training-prompts.txt, 7 sampled continuations of 128 tokens each, seed 1), written once into the
/// benchmark cache (about 40 s) and reused by every benchmark process after that.
/// </summary>
public static class ExitHeadModels
{
    public static readonly int[] Steps = [1, 2, 3];

    public static string Stories260KWithHeads()
    {
        var path = Path.Combine(BenchmarkModels.CacheDirectory, "stories260K.exit-heads.gguf");
        if (File.Exists(path)) return path;
        Directory.CreateDirectory(BenchmarkModels.CacheDirectory);
        var model = BenchmarkModels.PathOf("stories260K");
        using var full = ReferenceEngine.Load(model);
        var tokenizer = Tokenizers.FromGguf(full.Weights.File);
        var prompts = File.ReadAllLines(Path.Combine(BenchmarkModels.RepositoryModels(), "eval", "training-prompts.txt"))
            .Select(line => line.Trim()).Where(line => line.Length > 0) // as si learn-exits reads --prompts
            .Select(p => tokenizer.Encode(p, addSpecial: true, parseSpecial: false)).ToArray();
        var requests = TraceRequest.Continuations(prompts, count: 128, samples: 7, seed: 1).ToList();
        var trace = TeacherForcedTrace.Record(full, requests, Steps, tokenizer.EosId);
        var learned = ExitLearner.Learn(trace, HeadProjection.OfModel(full.Weights), full.Config.NormEps);
        var partial = path + ".partial.gguf";
        ExitHeadFile.Write(model, partial, learned.Exits.Select(e => (e.Step, e.Head)).ToList());
        File.Move(partial, path, overwrite: true);
        return path;
    }
}
