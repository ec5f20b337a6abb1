using SpecializedInfer.Engine;
using SpecializedInfer.Sampling;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// The models benchmarks run: the real stories260K from the shared folder, and synthetic models of real shapes
/// written once into a cache folder (seeded, so every run measures the same weights).
/// </summary>
public static class BenchmarkModels
{
    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("SPECIALIZEDINFER_BENCH_CACHE") is { Length: > 0 } dir
            ? dir
            : Path.Combine(Path.GetTempPath(), "specializedinfer-bench");

    public static string PathOf(string name)
    {
        if (name == "stories260K") return ModelLocator.Find("stories260K.gguf");
        var spec = SyntheticModelSpec.Presets[name];
        Directory.CreateDirectory(CacheDirectory);
        var path = Path.Combine(CacheDirectory, $"{spec.Name}-seed{spec.Seed}.gguf");
        if (!File.Exists(path))
        {
            var partial = path + ".partial";
            SyntheticModel.Write(spec, partial);
            File.Move(partial, path, overwrite: true);
        }
        return path;
    }

    /// <summary>
    /// Greedy generation of <paramref name="count"/> tokens after <paramref name="prompt"/> from position 0, with the
    /// session's statistics reset first (so acceptance figures cover one generation).
    /// </summary>
    public static int[] GenerateGreedy(IInferenceSession session, Sampler greedy, int[] prompt, int count)
    {
        session.Rewind(0);
        session.Statistics.Reset();
        return new Generation.TextGenerator(session, greedy, eosId: -1).Generate(prompt, count, stopAtEos: false).ToArray();
    }

    /// <summary>The repository's <c>models/</c> folder (manifests, plans, eval data), found above the running assembly.</summary>
    public static string RepositoryModels()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SpecializedInfer.sln"))) return Path.Combine(dir.FullName, "models");
        throw new DirectoryNotFoundException("repository root (SpecializedInfer.sln) not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The values a comma-separated environment variable selects, or <paramref name="all"/> when it is unset.</summary>
    public static IEnumerable<string> Selected(string variable, string[] all) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(all.Contains)
            : all;

    /// <summary>The generated engine of the empty plan for a benchmark model.</summary>
    public static ILanguageModel GeneratedFull(string model, string path) => model switch
    {
        "stories260K" => Stories260KFull.Load(path),
        "stories15M" => Stories15MFull.Load(path),
        _ => Stories110MFull.Load(path),
    };

    /// <summary>Session options for <paramref name="contextLength"/> positions on one thread (the single-thread benchmarks).</summary>
    public static SessionOptions OneThread(int contextLength) => new() { ContextLength = contextLength, Threads = 1 };

    /// <summary>BOS, then the model's own greedy continuation: a realistic sequence for attention (leaves the session at its end).</summary>
    public static int[] GreedySequence(IInferenceSession session, int bos, int count)
    {
        var tokens = new int[count];
        tokens[0] = bos;
        for (var i = 1; i < count; i++) tokens[i] = Sampler.ArgMax(session.Forward(tokens[i - 1]));
        return tokens;
    }
}
