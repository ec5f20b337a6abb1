using SpecializedInfer.Engine;

namespace SpecializedInfer.Benchmarks;

/// <summary>The stories110M shape in F32, Q8_0 and Q4_0 (<see cref="DecodeAndPrefillBenchmarks"/>).</summary>
public class QuantizedDecodeBenchmarks : DecodeAndPrefillBenchmarks
{
    protected override string Shape => "stories110M";

    protected override string[] ShapeTypes => ["f32", "q8_0", "q4_0"];

    protected override ILanguageModel Load(string type, string path) => type switch
    {
        "q8_0" => Stories110MQ8Full.Load(path),
        "q4_0" => Stories110MQ4Full.Load(path),
        _ => Stories110MFull.Load(path),
    };

    /// <summary>The stories110M-shape file of <paramref name="type"/>, quantized once into the cache folder.</summary>
    public static string PathOf(string type) => PathOf("stories110M", type);
}
