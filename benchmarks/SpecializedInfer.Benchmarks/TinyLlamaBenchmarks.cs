using SpecializedInfer.Engine;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// The TinyLlama-1.1B shape (dim 2048, 22 layers, 32 query and 4 key/value heads, FFN 5632, vocab 32000; seeded
/// weights) in Q8_0 and Q4_0 (<see cref="DecodeAndPrefillBenchmarks"/>): 1.2 GB and 0.6 GB a token must read, ten times
/// the stories110M shape, so decode is the machine's memory bandwidth with nothing left in cache between tokens.
/// The F32 file (4.4 GB) is only the quantizer's input. Writing the files takes a few minutes on the first run.
/// </summary>
public class TinyLlamaBenchmarks : DecodeAndPrefillBenchmarks
{
    protected override string Shape => "tinyllama-1.1b";

    protected override string[] ShapeTypes => ["q8_0", "q4_0"];

    protected override bool ProbesAroundDecode => true;

    protected override ILanguageModel Load(string type, string path) => type switch
    {
        "q8_0" => TinyLlamaQ8Full.Load(path),
        _ => TinyLlamaQ4Full.Load(path),
    };
}
