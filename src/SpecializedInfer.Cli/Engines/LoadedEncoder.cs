using Microsoft.Extensions.AI;
using SpecializedInfer.Encoders;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Cli.Engines;

/// <summary>
/// An encoder the <see cref="EngineFactory"/> loaded: the reference <see cref="BertEncoder"/> or a plan's generated
/// encoder, as the <see cref="ISentenceEncoder"/> and Microsoft.Extensions.AI embedding generator both executors are,
/// with the plan it runs (null: the full model) and how a generated encoder was built. Disposing stops a generated
/// encoder's threads and lets its assembly be unloaded.
/// </summary>
public sealed class LoadedEncoder : IDisposable
{
    private readonly EngineLoadContext? _context;

    internal LoadedEncoder(ISentenceEncoder encoder, IEmbeddingGenerator<string, Embedding<float>> generator, ExecutionSchedule schedule,
        EngineKind kind, LoadedPlan? plan, int threads, EngineBuild? build, EngineLoadContext? context)
    {
        Encoder = encoder;
        Generator = generator;
        Schedule = schedule;
        Kind = kind;
        Plan = plan;
        Threads = threads;
        Build = build;
        _context = context;
    }

    public ISentenceEncoder Encoder { get; }

    /// <summary>The encoder as an embedding generator, the model named after the file (batches of 16 sentences).</summary>
    public IEmbeddingGenerator<string, Embedding<float>> Generator { get; }

    /// <summary>The schedule the encoder runs.</summary>
    public ExecutionSchedule Schedule { get; }

    public EngineKind Kind { get; }
    public LoadedPlan? Plan { get; }

    /// <summary>Threads a batch runs on (the reference encoder runs on one).</summary>
    public int Threads { get; }

    /// <summary>Set for a generated encoder.</summary>
    public EngineBuild? Build { get; }

    /// <summary>"reference encoder" or "generated encoder MinilmDepth3".</summary>
    public string Description => Kind == EngineKind.Reference ? "reference encoder" : $"generated encoder {Encoder.GetType().Name}";

    public void Dispose()
    {
        Generator.Dispose();
        _context?.Unload();
    }
}
