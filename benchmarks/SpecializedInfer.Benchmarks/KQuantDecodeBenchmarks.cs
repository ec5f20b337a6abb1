using SpecializedInfer.Engine;
using SpecializedInfer.Oracles;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// The stories110M shape as a Q4_K_M file written by llama.cpp's own quantizer (Q4_K and Q6_K matrices, a Q6_K
/// output), run by the reference engine, which keeps both types in their super-blocks (generated engines keep only
/// Q8_0/Q4_0 layers quantized: a file mixing types has no single weight type for its manifest), on 1 and 2 threads
/// beside llama.cpp as it ships: the same decode and prefill as <see cref="QuantizedDecodeBenchmarks"/>
/// (<see cref="DecodeAndPrefillBenchmarks"/>, shared). <c>SPECIALIZEDINFER_BENCH_TYPES</c> selects it with q4_k_m.
/// </summary>
public class KQuantDecodeBenchmarks : DecodeAndPrefillBenchmarks
{
    protected override string Shape => "stories110M";

    protected override string[] ShapeTypes => ["q4_k_m"];

    protected override string EngineName => "reference engine";

    protected override ILanguageModel Load(string type, string path) => ReferenceEngine.Load(path);

    protected override string ModelPath(string type) => PathOf();

    /// <summary>The stories110M-shape Q4_K_M file, quantized once by llama.cpp into the cache folder.</summary>
    public static string PathOf()
    {
        var f32 = BenchmarkModels.PathOf("stories110M");
        var path = Path.ChangeExtension(f32, ".q4_k_m.gguf");
        if (!File.Exists(path))
        {
            LlamaCppOracle.Quantize(f32, path + ".partial", "q4_k_m");
            File.Move(path + ".partial", path, overwrite: true);
        }
        return path;
    }
}
