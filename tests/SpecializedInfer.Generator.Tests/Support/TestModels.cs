using SpecializedInfer.Gguf;
using SpecializedInfer.Quantization;
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

    /// <summary>
    /// Widths that are multiples of 32, for Q4_0 (<see cref="QuantizedPath"/>): dim 96, 8 heads of 12 over 2 KV heads
    /// (key and value rows 24, so a partial 16-row tile), ffn 224, vocabulary 600 (a partial tile), tied output (a
    /// Q4_0 head).
    /// </summary>
    public static readonly SyntheticModelSpec Q4syn = new()
    {
        Name = "q4syn", Dim = 96, HiddenDim = 224, Layers = 3, Heads = 8, KvHeads = 2, VocabSize = 600, ContextLength = 256, Seed = 14,
    };

    /// <summary>
    /// The qwen2 architecture (query/key/value biases, half-split rotary pairs) at dim 96: 6 heads of 16 over 2 KV heads,
    /// 12 of the 16 dimensions rotated (6 pairs: a vector and a scalar tail), ffn 256, θ 1e6, ε 1e-6, tied output.
    /// </summary>
    public static readonly SyntheticModelSpec Qwen = new()
    {
        Name = "qwen", Architecture = Planning.DecoderArchitecture.Qwen2, Dim = 96, HiddenDim = 256, Layers = 4, Heads = 6, KvHeads = 2,
        RotaryDims = 12, VocabSize = 600, ContextLength = 256, RopeTheta = 1000000f, NormEps = 1e-6f, Seed = 15,
    };

    /// <summary><see cref="Qwen"/>'s shape with Q8_0 matrices (biases and norms F32).</summary>
    public static readonly SyntheticModelSpec QwenQ8 = Qwen with { Name = "qwenq8", MatrixType = GgmlType.Q8_0, Seed = 16 };

    /// <summary>
    /// Width 256, for a Q4_0 file whose tied output llama.cpp's rule makes Q6_K (256 divides its rows): the head
    /// multiplied in Q6_K super-blocks with Q8_K activations; 4 heads of 64 over 2 KV heads, ffn 512, vocabulary 600.
    /// </summary>
    public static readonly SyntheticModelSpec K4syn = new()
    {
        Name = "k4syn", Dim = 256, HiddenDim = 512, Layers = 2, Heads = 4, KvHeads = 2, VocabSize = 600, ContextLength = 256, Seed = 15,
    };

    private static readonly Lazy<string> Folder = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("si-generator-tests-").FullName;
        foreach (var spec in new[] { Odd, Wide, Mha, Qwen, QwenQ8 }) SyntheticModel.Write(spec, Path.Combine(dir, spec.Name + ".gguf"));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return dir;
    });

    public static string Stories260K => ModelLocator.Find("stories260K.gguf");

    private static readonly object QuantizedGate = new();

    /// <summary>
    /// A model quantized by si quantize (llama.cpp's bytes): s260q8/s260q4 are stories260K with its feed-forward
    /// padded to 192 (so 32 divides every width), as Q8_0 and Q4_0 (whose output matrix stays Q8_0: 256 does not
    /// divide 64); q4syn is <see cref="Q4syn"/> as Q4_0, k4syn <see cref="K4syn"/> as Q4_0 (with a Q6_K output).
    /// </summary>
    private static string QuantizedPath(string name)
    {
        lock (QuantizedGate)
        {
            var path = Path.Combine(Folder.Value, name + ".gguf");
            if (File.Exists(path)) return path;
            var f32 = Path.Combine(Folder.Value, name + ".f32.gguf");
            if (name == "q4syn") SyntheticModel.Write(Q4syn, f32);
            else if (name == "k4syn") SyntheticModel.Write(K4syn, f32);
            else Testing.PaddedFeedForward.Write(Stories260K, f32, 192);
            using (var file = GgufFile.Open(f32))
                ModelQuantizer.Quantize(file, name == "s260q8" ? QuantizedFileType.Q8_0 : QuantizedFileType.Q4_0, path);
            return path;
        }
    }

    private static readonly Lazy<string> RenamedStories260K = new(() =>
    {
        var path = Path.Combine(Folder.Value, "s260r.gguf");
        Testing.RenamedTensors.Write(Stories260K, path, Testing.RenamedTensors.HuggingFace);
        return path;
    });

    /// <summary>
    /// The model file a plan's manifest describes, by the plan file's prefix (s260, odd, wide, mha, qwen, qwenq8; s260h and oddh
    /// add an exit head; s260r is stories260K with its tensors renamed; s260q8, s260q4, q4syn and k4syn are quantized).
    /// </summary>
    public static string PathFor(string planFile) => Path.GetFileName(planFile).Split('.')[0] switch
    {
        "s260" => Stories260K,
        "s260h" => ExitHeadModels.PathFor("s260h", Stories260K),
        "s260r" => RenamedStories260K.Value,
        "oddh" => ExitHeadModels.PathFor("oddh", Path.Combine(Folder.Value, "odd.gguf")),
        "s260q8" or "s260q4" or "q4syn" or "k4syn" => QuantizedPath(Path.GetFileName(planFile).Split('.')[0]),
        var name => Path.Combine(Folder.Value, name + ".gguf"),
    };
}
