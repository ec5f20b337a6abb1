using LLama;
using LLama.Common;
using LLama.Native;

namespace SpecializedInfer.Oracles;

/// <summary>
/// llama.cpp's sentence embedding of a GGUF encoder, through LLamaSharp's <see cref="LLamaEmbedder"/>: CPU only, the
/// pooling the file declares (mean for the converted MiniLM), one thread. Also llama.cpp's tokenizer on the same file.
/// Embeddings come back as llama.cpp pools them (not normalized).
/// </summary>
public sealed class LlamaCppEmbedder : IDisposable
{
    private readonly object _gate = new();
    private readonly LLamaWeights _weights;
    private readonly LLamaEmbedder _embedder;

    public LlamaCppEmbedder(string modelPath, int contextSize = 512)
    {
        var parameters = new ModelParams(modelPath)
        {
            ContextSize = (uint)contextSize,
            BatchSize = (uint)contextSize,
            UBatchSize = (uint)contextSize,
            GpuLayerCount = 0,
            Threads = 1,
            BatchThreads = 1,
            Embeddings = true,
            PoolingType = LLamaPoolingType.Mean,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        _embedder = new LLamaEmbedder(_weights, parameters);
    }

    public int EmbeddingSize => _embedder.EmbeddingSize;

    /// <summary>llama.cpp's tokens for <paramref name="text"/>, [CLS] and [SEP] added when <paramref name="addSpecial"/>.</summary>
    public int[] Tokenize(string text, bool addSpecial = true)
    {
        lock (_gate) return [.. _weights.NativeHandle.Tokenize(text, addSpecial, false, System.Text.Encoding.UTF8).Select(t => (int)t)];
    }

    /// <summary>The mean-pooled embedding of one text.</summary>
    public float[] Embed(string text)
    {
        lock (_gate) return _embedder.GetEmbeddings(text).GetAwaiter().GetResult().Single();
    }

    public void Dispose()
    {
        _embedder.Dispose();
        _weights.Dispose();
    }
}
