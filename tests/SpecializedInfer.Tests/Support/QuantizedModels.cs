using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Tests.Support;

/// <summary>
/// F32 models whose every matrix width is a multiple of 32 (so llama.cpp can quantize them to Q8_0 and Q4_0),
/// written once per test run, each with its Q8_0 and Q4_0 files quantized by llama.cpp's own quantizer:
/// <list type="bullet">
/// <item><c>s260pad</c>: stories260K's real weights with the feed-forward width padded from 172 to 192 by zeros
/// (zero gate/up rows and down columns add exactly nothing in F32), so text and greedy continuations are the
/// trained model's;</item>
/// <item><c>k256</c>: a synthetic model whose widths are multiples of 256 (the tied output becomes Q6_K under Q4_0).</item>
/// </list>
/// </summary>
public sealed class QuantizedModels : IDisposable
{
    public static readonly SyntheticModelSpec K256 = new()
    {
        Name = "k256", Dim = 256, HiddenDim = 768, Layers = 3, Heads = 8, KvHeads = 4, VocabSize = 600, ContextLength = 256, Seed = 31,
    };

    private readonly string _dir = System.IO.Directory.CreateTempSubdirectory("si-quantized-").FullName;
    private readonly Dictionary<string, string> _paths = new();
    private readonly object _gate = new();

    public string Directory => _dir;

    /// <summary>The F32 file of <paramref name="model"/> ("s260pad", "k256").</summary>
    public string F32(string model) => Path(model, "f32");

    /// <summary>The file llama.cpp's quantizer wrote from <see cref="F32"/> as <paramref name="fileType"/> ("q8_0", "q4_0").</summary>
    public string Quantized(string model, string fileType) => Path(model, fileType);

    private string Path(string model, string type)
    {
        lock (_gate)
        {
            var key = model + "." + type;
            if (_paths.TryGetValue(key, out var known)) return known;
            var path = System.IO.Path.Combine(_dir, key + ".gguf");
            if (type == "f32") WriteF32(model, path);
            else LlamaCppOracle.Quantize(F32(model), path, type);
            return _paths[key] = path;
        }
    }

    private static void WriteF32(string model, string path)
    {
        switch (model)
        {
            case "s260pad": Testing.PaddedFeedForward.Write(ModelLocator.Find("stories260K.gguf"), path, 192); break;
            case "k256": SyntheticModel.Write(K256, path); break;
            default: throw new ArgumentException($"No model '{model}'.", nameof(model));
        }
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
