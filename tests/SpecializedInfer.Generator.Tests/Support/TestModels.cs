using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Generator.Tests.Support;

/// <summary>
/// The models the test plans run on: the real stories260K from the shared folder, and three synthetic shapes
/// written once per test process into a temp folder. Their manifests (Plans/*.model.json) are checked in and must
/// match these specs exactly (the engines' Load verifies it).
/// </summary>
public static class TestModels
{
    /// <summary>dim 120 and ffn 300 (not multiples of 16), 6 heads of 20 over 2 KV heads (ratio 3), tied output.</summary>
    public static readonly SyntheticModelSpec Odd = new()
    {
        Name = "odd", Dim = 120, HiddenDim = 300, Layers = 3, Heads = 6, KvHeads = 2, VocabSize = 400, ContextLength = 256, Seed = 11,
    };

    /// <summary>dim 128, 8 heads of 16 over 2 KV heads (ratio 4), ffn 344, separate output matrix, θ 500000, ε 1e-6.</summary>
    public static readonly SyntheticModelSpec Wide = new()
    {
        Name = "wide", Dim = 128, HiddenDim = 344, Layers = 4, Heads = 8, KvHeads = 2, VocabSize = 1000, ContextLength = 256,
        TiedOutput = false, RopeTheta = 500000f, NormEps = 1e-6f, Seed = 12,
    };

    /// <summary>dim 192, 3 heads of 64 with as many KV heads (ratio 1), ffn 1400, separate output matrix; matrices past 1 MiB (prefetching kernels).</summary>
    public static readonly SyntheticModelSpec Mha = new()
    {
        Name = "mha", Dim = 192, HiddenDim = 1400, Layers = 3, Heads = 3, KvHeads = 3, VocabSize = 1400, ContextLength = 128,
        TiedOutput = false, Seed = 13,
    };

    private static readonly Lazy<string> Folder = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("si-generator-tests-").FullName;
        foreach (var spec in new[] { Odd, Wide, Mha }) SyntheticModel.Write(spec, Path.Combine(dir, spec.Name + ".gguf"));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return dir;
    });

    public static string Stories260K => ModelLocator.Find("stories260K.gguf");

    private static readonly Lazy<string> RenamedStories260K = new(() =>
    {
        var path = Path.Combine(Folder.Value, "s260r.gguf");
        Testing.RenamedTensors.Write(Stories260K, path, Testing.RenamedTensors.HuggingFace);
        return path;
    });

    /// <summary>
    /// The model file a plan's manifest describes, by the plan file's prefix (s260, odd, wide, mha; s260h and oddh
    /// add an exit head; s260r is stories260K with its tensors renamed).
    /// </summary>
    public static string PathFor(string planFile) => Path.GetFileName(planFile).Split('.')[0] switch
    {
        "s260" => Stories260K,
        "s260h" => ExitHeadModels.PathFor("s260h", Stories260K),
        "s260r" => RenamedStories260K.Value,
        "oddh" => ExitHeadModels.PathFor("oddh", Path.Combine(Folder.Value, "odd.gguf")),
        var name => Path.Combine(Folder.Value, name + ".gguf"),
    };
}
