using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Tests.Support;

/// <summary>
/// Small synthetic models written once per test run into a temp folder: shapes chosen to break assumptions the
/// real 260K model would not (dims that are not multiples of 16, KV-head ratios other than 2, a separate head).
/// </summary>
public sealed class SyntheticModels : IDisposable
{
    /// <summary>dim 120 (not a multiple of 16), 6 heads of 20, 2 KV heads (ratio 3), hidden 300, tied output.</summary>
    public static readonly SyntheticModelSpec Odd = new()
    {
        Name = "odd", Dim = 120, HiddenDim = 300, Layers = 3, Heads = 6, KvHeads = 2, VocabSize = 400, ContextLength = 256, Seed = 11,
    };

    /// <summary>dim 128, 8 heads of 16, 2 KV heads (ratio 4), hidden 344, separate output matrix, rope theta 500000.</summary>
    public static readonly SyntheticModelSpec Wide = new()
    {
        Name = "wide", Dim = 128, HiddenDim = 344, Layers = 4, Heads = 8, KvHeads = 2, VocabSize = 1000, ContextLength = 256,
        TiedOutput = false, RopeTheta = 500000f, NormEps = 1e-6f, Seed = 12,
    };

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "si-synthetic-" + Guid.NewGuid().ToString("N")[..8]);

    public SyntheticModels()
    {
        Directory.CreateDirectory(_dir);
        OddPath = Write(Odd);
        WidePath = Write(Wide);
    }

    public string OddPath { get; }
    public string WidePath { get; }

    public string PathOf(string name) => name switch { "odd" => OddPath, "wide" => WidePath, _ => throw new ArgumentException(name) };

    private string Write(SyntheticModelSpec spec)
    {
        var path = Path.Combine(_dir, spec.Name + ".gguf");
        SyntheticModel.Write(spec, path);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
