using Microsoft.Extensions.AI;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Encoders;

/// <summary>
/// An encoder (<see cref="ISentenceEncoder"/>: the reference <see cref="BertEncoder"/> or a generated encoder, under
/// its plan) as Microsoft.Extensions.AI's embedding generator; generated encoders implement the interface through it. Texts are read lazily and encoded <see cref="BatchSize"/> at a time in padded batches, exactly as
/// <see cref="BertEncoder.Embed(IReadOnlyList{string}, int, CancellationToken)"/> encodes them; cancellation is checked before every batch and between the plan's
/// steps. The work runs on the calling thread (it is CPU-bound; the task completes when it is done). Usage reports
/// the tokens encoded, [CLS] and [SEP] included; each embedding's additional property <c>steps</c>
/// (<see cref="Evaluation.EmbeddingEvaluator.StepsProperty"/>) is the number of plan steps its sentence ran.
/// </summary>
public sealed class BertEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    /// <summary>The provider name in <see cref="Metadata"/>.</summary>
    public const string ProviderName = "SpecializedInfer";

    /// <summary>Sentences per padded batch unless the caller says otherwise.</summary>
    public const int DefaultBatchSize = 16;

    /// <param name="encoder">the encoder, with the plan it runs</param>
    /// <param name="modelId">the model's name, reported in <see cref="Metadata"/> and on every embedding</param>
    /// <param name="batchSize">sentences per padded batch</param>
    public BertEmbeddingGenerator(ISentenceEncoder encoder, string modelId, int batchSize = DefaultBatchSize)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        if (string.IsNullOrWhiteSpace(modelId)) throw new ArgumentException("The model needs a name (its id in the generator's metadata).");
        if (batchSize < 1) throw new ArgumentOutOfRangeException($"A batch holds at least one sentence, not {batchSize}.", innerException: null);
        Encoder = encoder;
        BatchSize = batchSize;
        Metadata = new EmbeddingGeneratorMetadata(ProviderName, providerUri: null, defaultModelId: modelId, defaultModelDimensions: encoder.Dimensions);
    }

    /// <summary>Loads a BERT GGUF (with a plan's schedule, or the full model) and names the model after the file.</summary>
    public static BertEmbeddingGenerator Load(string ggufPath, ExecutionSchedule? schedule = null, int batchSize = DefaultBatchSize) =>
        new(BertEncoder.Load(ggufPath, schedule), Path.GetFileNameWithoutExtension(ggufPath), batchSize);

    public ISentenceEncoder Encoder { get; }
    public int BatchSize { get; }
    public EmbeddingGeneratorMetadata Metadata { get; }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (options?.Dimensions is { } dims && dims != Encoder.Dimensions)
            throw new ArgumentException($"This model's embeddings have {Encoder.Dimensions} dimensions; {dims} were asked for, and the model was not trained for shorter ones.");
        if (options?.ModelId is { } model && model != Metadata.DefaultModelId)
            throw new ArgumentException($"This generator runs the model '{Metadata.DefaultModelId}'; '{model}' was asked for.");

        var result = new GeneratedEmbeddings<Embedding<float>>();
        var tokens = 0L;
        var batch = new List<int[]>(BatchSize);
        void Flush()
        {
            cancellationToken.ThrowIfCancellationRequested();
            var created = DateTimeOffset.UtcNow;
            var steps = new int[batch.Count];
            var vectors = Encoder.EmbedTokens(batch, steps, cancellationToken);
            for (var i = 0; i < vectors.Length; i++)
                result.Add(new Embedding<float>(vectors[i])
                {
                    ModelId = Metadata.DefaultModelId, CreatedAt = created,
                    AdditionalProperties = new() { [Evaluation.EmbeddingEvaluator.StepsProperty] = steps[i] },
                });
            batch.Clear();
        }
        var index = 0;
        foreach (var text in values)
        {
            if (text is null) throw new ArgumentException($"Text {index + 1} is null; every value to embed is a string.");
            index++;
            var ids = Encoder.Tokenizer.Encode(text);
            tokens += ids.Length;
            batch.Add(ids);
            if (batch.Count == BatchSize) Flush();
        }
        if (batch.Count > 0) Flush();
        result.Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens };
        return Task.FromResult(result);
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return Metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(Encoder)) return Encoder;
        return null;
    }

    /// <summary>Nothing to release: the weights are managed arrays.</summary>
    public void Dispose() { }
}
