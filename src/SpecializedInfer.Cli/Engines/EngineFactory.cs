using System.Diagnostics;
using System.Reflection;
using Microsoft.Extensions.AI;
using SpecializedInfer.Encoders;
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

    /// <summary>
    /// True for a bert GGUF (an encoder); every other file is run as a LLaMA-family model. A command opens the model
    /// once to ask this and hands the open file on to <see cref="LoadEncoder(GgufFile, string?, int)"/>, so an
    /// encoder's header is read once per command.
    /// </summary>
    public static bool IsEncoder(GgufFile file) =>
        file.Find("general.architecture")?.Value is string arch && arch == BertConfig.Keys.Architecture;

    /// <summary>
    /// The encoder in <paramref name="file"/> run by the plan at <paramref name="planPath"/> (checked against the
    /// file's header as <see cref="BertManifest.LoadPlan"/> checks it), or the full model when it is null.
    /// <paramref name="threads"/>: threads a generated encoder's batches run on (0: the physical cores); the reference
    /// encoder runs on one. A malformed header fails with its typed error before a plan is read or an engine compiled,
    /// and the reference encoder's weights are read from the same open file.
    /// </summary>
    public LoadedEncoder LoadEncoder(GgufFile file, string? planPath, int threads)
    {
        var config = BertConfig.FromGguf(file);
        var plan = planPath is null ? null : BertManifest.LoadPlanFile(planPath, config);
        if (Kind == EngineKind.Reference) return ReferenceEncoder(file, plan);
        var sources = plan is not null ? EngineSources.ForPlan(plan) : EngineSources.FullModel(FullManifest(file.FilePath, config));
        return LoadGeneratedEncoder(file.FilePath, sources, plan, threads);
    }

    /// <summary>
    /// The encoder in <paramref name="file"/> run by a plan already read and checked against its header
    /// (<see cref="BertManifest.LoadPlanFile"/>).
    /// </summary>
    public LoadedEncoder LoadEncoder(GgufFile file, LoadedPlan plan, int threads) =>
        Kind == EngineKind.Reference ? ReferenceEncoder(file, plan) : LoadGeneratedEncoder(file.FilePath, EngineSources.ForPlan(plan), plan, threads);

    /// <summary>The full encoder described by <paramref name="plan"/>'s manifest: the baseline a plan is measured against.</summary>
    public LoadedEncoder LoadEncoderFull(GgufFile file, LoadedPlan plan, int threads) =>
        Kind == EngineKind.Reference ? ReferenceEncoder(file, null) : LoadGeneratedEncoder(file.FilePath, EngineSources.FullModel(plan), null, threads);

    /// <summary>The manifest si manifest would write for the bert file at <paramref name="modelPath"/>, beside it.</summary>
    private static SidecarFile FullManifest(string modelPath, BertConfig config)
    {
        var name = Path.GetFileNameWithoutExtension(modelPath);
        var manifestPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, name + ManifestReader.Extension);
        return new SidecarFile(manifestPath, ManifestWriter.ToJson(BertManifest.FromConfig(config, name)));
    }

    private (string Path, BertWeights Weights)? _bertWeights;

    /// <summary>The reference encoder; those one factory loads from a file share one copy of its weights.</summary>
    private LoadedEncoder ReferenceEncoder(GgufFile file, LoadedPlan? plan)
    {
        if (_bertWeights?.Path != file.FilePath) _bertWeights = (file.FilePath, BertWeights.Load(file));
        var encoder = new BertEncoder(_bertWeights.Value.Weights, plan?.Schedule);
        var generator = new BertEmbeddingGenerator(encoder, Path.GetFileNameWithoutExtension(file.FilePath));
        return new LoadedEncoder(encoder, generator, encoder.Schedule, Kind, plan, threads: 1, build: null, context: null);
    }

    /// <summary>
    /// A generated encoder. Every caller has read the model's header already (to open the file and check the plan
    /// against it), so a missing or malformed model has failed before this compiles anything.
    /// </summary>
    private LoadedEncoder LoadGeneratedEncoder(string modelPath, EngineSources sources, LoadedPlan? plan, int threads)
    {
        var (type, build, context) = Build(sources);
        try
        {
            var encoder = Loader<Func<string, int, int, ISentenceEncoder>>(type, [typeof(string), typeof(int), typeof(int)])(
                modelPath, threads, BertEmbeddingGenerator.DefaultBatchSize);
            // Both are the engine itself (it implements them through the shared BertEmbeddingGenerator).
            var generator = (IEmbeddingGenerator<string, Embedding<float>>)encoder;
            var schedule = (ExecutionSchedule)type.GetProperty("CompiledSchedule", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
            return new LoadedEncoder(encoder, generator, schedule, Kind, plan, threads > 0 ? threads : PhysicalCores.Count, build, context);
        }
        catch
        {
            context.Unload();
            throw;
        }
    }

    /// <param name="weightType">The manifest's <c>weightType</c>, which decides whether the engine keeps Q8_0/Q4_0 matrices quantized.</param>
    private LoadedEngine LoadGenerated(string modelPath, EngineSources sources, LoadedPlan? plan, TensorNames names, string? weightType)
    {
        // A missing or malformed model file fails now, not after a compilation of several seconds.
        using var file = GgufFile.Open(modelPath);
        LlamaConfig.FromGguf(file, names);

        var (type, build, context) = Build(sources);
        try
        {
            var engine = Loader<Func<string, ILanguageModel>>(type, [typeof(string)])(modelPath);
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

    /// <summary>
    /// The engine class compiled from <paramref name="sources"/>, read from the cache or compiled now (and cached), in
    /// its own load context; decoders and encoders alike.
    /// </summary>
    private (Type Type, EngineBuild Build, EngineLoadContext Context) Build(EngineSources sources)
    {
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
        try
        {
            var assembly = context.LoadFromStream(new MemoryStream(image));
            var type = assembly.GetType($"{GeneratedEngineCompiler.Namespace}.{sources.ClassName}")
                       ?? throw new BadImageFormatException($"The engine assembly holds no class {sources.ClassName}.");
            return (type, new EngineBuild(sources.ClassName, fromCache, clock.Elapsed.TotalSeconds, path, damaged, cacheProblem), context);
        }
        catch (BadImageFormatException) when (fromCache)
        {
            // Hashed and whole, yet not loadable (written by a build this key failed to tell apart): build it anew.
            context.Unload();
            EngineCache.Delete(path);
            return Build(sources);
        }
        catch (BadImageFormatException e)
        {
            context.Unload();
            throw new EngineCompilationException($"The engine compiled for {sources.PlanPath} could not be loaded: {e.Message}");
        }
    }

    /// <summary>
    /// The engine class's static <c>Load</c> taking <paramref name="parameters"/> (a decoder's <c>Load(string modelPath)</c>,
    /// an encoder's <c>Load(string modelPath, int threads, int batchSize)</c>) as a delegate.
    /// </summary>
    private static TDelegate Loader<TDelegate>(Type type, Type[] parameters) where TDelegate : Delegate
    {
        var method = type.GetMethod("Load", BindingFlags.Public | BindingFlags.Static, parameters)
                     ?? throw new EngineCompilationException($"The engine class {type.Name} has no Load({string.Join(", ", parameters.Select(p => p.Name))}).");
        return method.CreateDelegate<TDelegate>();
    }
}
