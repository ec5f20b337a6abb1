using System.Diagnostics;
using System.Reflection;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Cli.Engines;

/// <summary>
/// Loads the engine a command runs, whichever executor <see cref="Kind"/> names, so every command (si run, si eval,
/// and later tools) offers <c>--engine reference|generated</c> with the same meaning. A plan is read and checked once
/// by <see cref="PlanLoader"/> for both, so a bad plan fails with the same SI diagnostics either way. A generated
/// engine is compiled in-process (<see cref="GeneratedEngineCompiler"/>) the first time and read from the
/// <see cref="EngineCache"/> after that.
/// </summary>
public sealed class EngineFactory(EngineKind kind, string cacheDirectory)
{
    private readonly EngineCache _cache = new(cacheDirectory);

    public EngineKind Kind { get; } = kind;

    /// <summary>The model run by the plan at <paramref name="planPath"/>, or the full model when it is null.</summary>
    public LoadedEngine Load(string modelPath, string? planPath) =>
        planPath is null ? LoadFullModel(modelPath) : Load(modelPath, PlanLoader.Load(planPath));

    /// <summary>The model run by a plan already read.</summary>
    public LoadedEngine Load(string modelPath, LoadedPlan plan)
    {
        if (Kind == EngineKind.Reference)
        {
            var reference = ReferenceEngine.Load(modelPath, plan);
            return new LoadedEngine(reference, Kind, plan, DequantizedWeights.Of(reference.Weights), null, null);
        }
        return LoadGenerated(modelPath, EngineSources.ForPlan(plan), plan, plan.Manifest.Tensors, plan.Manifest.WeightType);
    }

    /// <summary>
    /// The full model (every layer, no exits) bound by <paramref name="plan"/>'s manifest: the baseline a plan is
    /// measured against, reading the file by the same tensor names the plan's engine does.
    /// </summary>
    public LoadedEngine LoadFull(string modelPath, LoadedPlan plan)
    {
        if (Kind == EngineKind.Reference)
        {
            var reference = new ReferenceEngine(LlamaWeights.Load(modelPath, plan.Manifest, plan.ManifestPath, layersToBind: null), ownsWeights: true);
            return new LoadedEngine(reference, Kind, null, DequantizedWeights.Of(reference.Weights), null, null);
        }
        return LoadGenerated(modelPath, EngineSources.FullModel(plan), null, plan.Manifest.Tensors, plan.Manifest.WeightType);
    }

    private LoadedEngine LoadFullModel(string modelPath)
    {
        if (Kind == EngineKind.Reference)
        {
            var reference = ReferenceEngine.Load(modelPath);
            return new LoadedEngine(reference, Kind, null, DequantizedWeights.Of(reference.Weights), null, null);
        }
        // The manifest si manifest would write for this file: its topology under GGUF's tensor names.
        EngineSources sources;
        string? weightType;
        using (var file = GgufFile.Open(modelPath))
        {
            var config = LlamaConfig.FromGguf(file);
            sources = EngineSources.FullModel(modelPath, file, config);
            weightType = ManifestCheck.WeightTypeOf(file, config);
        }
        return LoadGenerated(modelPath, sources, null, TensorNames.Gguf, weightType);
    }

    /// <param name="weightType">The manifest's <c>weightType</c>, which decides whether the engine keeps Q8_0/Q4_0 matrices quantized.</param>
    private LoadedEngine LoadGenerated(string modelPath, EngineSources sources, LoadedPlan? plan, TensorNames names, string? weightType)
    {
        // A missing or malformed model file fails now, not after a compilation of several seconds.
        using var file = GgufFile.Open(modelPath);
        LlamaConfig.FromGguf(file, names);

        var clock = Stopwatch.StartNew();
        var path = _cache.PathOf(sources);
        var image = EngineCache.TryRead(path, out var damaged);
        var fromCache = image is not null;
        string? cacheProblem = null;
        if (image is null)
        {
            image = GeneratedEngineCompiler.Compile(sources);
            try { _cache.Write(path, image); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { cacheProblem = UserMessage.Of(e); }
        }

        var context = new EngineLoadContext(sources.ClassName);
        Func<string, ILanguageModel> load;
        try
        {
            load = Loader(context, image, sources.ClassName);
        }
        catch (BadImageFormatException) when (fromCache)
        {
            // Hashed and whole, yet not loadable (written by a build this key failed to tell apart): build it anew.
            context.Unload();
            EngineCache.Delete(path);
            return LoadGenerated(modelPath, sources, plan, names, weightType);
        }
        catch (BadImageFormatException e)
        {
            context.Unload();
            throw new EngineCompilationException($"The engine compiled for {sources.PlanPath} could not be loaded: {e.Message}");
        }
        var build = new EngineBuild(sources.ClassName, fromCache, clock.Elapsed.TotalSeconds, path, damaged, cacheProblem);

        try
        {
            var engine = load(modelPath);
            // An engine generated for a Q8_0/Q4_0 manifest multiplies those matrices in their blocks, as the reference does.
            var dequantized = DequantizedWeights.Predict(file, engine.Config, names, engine.Schedule,
                multipliesQuantizedBlocks: TiledQuantLayout.TypeOf(weightType) is not null);
            return new LoadedEngine(engine, Kind, plan, dequantized, build, context);
        }
        catch
        {
            context.Unload();
            throw;
        }
    }

    /// <summary>The engine class's static <c>Load(string modelPath)</c> (<see cref="ISpecializedEngine{TSelf}"/>).</summary>
    private static Func<string, ILanguageModel> Loader(EngineLoadContext context, byte[] image, string className)
    {
        var assembly = context.LoadFromStream(new MemoryStream(image));
        var type = assembly.GetType($"{GeneratedEngineCompiler.Namespace}.{className}")
                   ?? throw new BadImageFormatException($"The engine assembly holds no class {className}.");
        var method = type.GetMethod("Load", BindingFlags.Public | BindingFlags.Static, [typeof(string)])
                     ?? throw new BadImageFormatException($"The engine class {className} has no Load(string).");
        return method.CreateDelegate<Func<string, ILanguageModel>>();
    }
}
