using System.Globalization;
using SpecializedInfer.Engine;
using SpecializedInfer.Models;

namespace SpecializedInfer.Cli.Engines;

/// <summary>How a generated engine was obtained: compiled now (and cached, unless that failed) or read from the cache.</summary>
public sealed record EngineBuild(string ClassName, bool FromCache, double Seconds, string CachePath, bool RebuiltDamagedEntry, string? CacheProblem)
{
    /// <summary>One line for standard error, timing the build apart from the run.</summary>
    public string Describe()
    {
        var ms = (Seconds * 1000).ToString("N0", CultureInfo.InvariantCulture);
        if (FromCache) return $"generated engine {ClassName} loaded from the cache in {ms} ms ({CachePath})";
        var line = $"generated engine {ClassName} compiled in {ms} ms";
        if (RebuiltDamagedEntry) line += "; the cached copy was damaged and was rebuilt";
        return line + (CacheProblem is null ? $", cached as {CachePath}" : $"; not cached: {CacheProblem}");
    }
}

/// <summary>
/// An engine the <see cref="EngineFactory"/> loaded: the model, which executor it is, the plan it runs (null: the full
/// model), how a generated engine was built, and what loading expanded to F32. Disposing unmaps the model and lets a
/// generated engine's assembly be unloaded.
/// </summary>
public sealed class LoadedEngine : IDisposable
{
    private readonly EngineLoadContext? _context;

    internal LoadedEngine(ILanguageModel engine, EngineKind kind, LoadedPlan? plan, DequantizedWeights dequantized, EngineBuild? build, EngineLoadContext? context)
    {
        Engine = engine;
        Kind = kind;
        Plan = plan;
        Dequantized = dequantized;
        Build = build;
        _context = context;
    }

    public ILanguageModel Engine { get; }
    public EngineKind Kind { get; }
    public LoadedPlan? Plan { get; }
    public DequantizedWeights Dequantized { get; }

    /// <summary>Set for a generated engine.</summary>
    public EngineBuild? Build { get; }

    /// <summary>"reference engine" or "generated engine Stories260KFast".</summary>
    public string Description => Kind == EngineKind.Reference ? "reference engine" : $"generated engine {Engine.Name}";

    public void Dispose()
    {
        Engine.Dispose();
        _context?.Unload();
    }
}
