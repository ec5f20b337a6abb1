using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using SpecializedInfer.Planning;

namespace SpecializedInfer;

/// <summary>
/// Writes a manifest as the JSON <c>si manifest</c> produces: stable property order, shortest round-trip numbers,
/// every string escaped by <see cref="Utf8JsonWriter"/>, so <see cref="ManifestReader"/> reads back the same manifest.
/// </summary>
public static class ManifestWriter
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        NewLine = "\n",
        // A manifest is a file, not HTML: non-ASCII names stay readable. Quotes, backslashes and control characters
        // are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string ToJson(ModelManifest m)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, Options))
        {
            w.WriteStartObject();
            w.WriteString("name", m.Name);
            w.WriteString("architecture", m.Architecture);
            if (m.Encoder is { } encoder)
            {
                WriteEncoder(w, m, encoder);
                w.WriteEndObject();
                w.Flush();
                return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
            }
            w.WriteNumber("dim", m.Dim);
            w.WriteNumber("hiddenDim", m.HiddenDim);
            w.WriteNumber("layers", m.Layers);
            w.WriteNumber("heads", m.Heads);
            w.WriteNumber("kvHeads", m.KvHeads);
            w.WriteNumber("headDim", m.HeadDim);
            w.WriteNumber("rotaryDims", m.RotaryDims);
            w.WriteNumber("ropeTheta", m.RopeTheta);
            if (m.RopeFrequencyFactors) w.WriteBoolean("ropeFrequencyFactors", true);
            w.WriteNumber("normEps", m.NormEps);
            w.WriteNumber("vocabSize", m.VocabSize);
            w.WriteNumber("contextLength", m.ContextLength);
            w.WriteBoolean("tiedOutput", m.TiedOutput);
            if (m.WeightType is not null) w.WriteString("weightType", m.WeightType);
            WriteTensors(w, m.Tensors);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>A bert manifest: the shared sizes, then the encoder's architecture written out.</summary>
    private static void WriteEncoder(Utf8JsonWriter w, ModelManifest m, EncoderFacts e)
    {
        w.WriteNumber("dim", m.Dim);
        w.WriteNumber("hiddenDim", m.HiddenDim);
        w.WriteNumber("layers", m.Layers);
        w.WriteNumber("heads", m.Heads);
        w.WriteNumber("normEps", m.NormEps);
        w.WriteNumber("vocabSize", m.VocabSize);
        w.WriteNumber("contextLength", m.ContextLength);
        w.WriteNumber("tokenTypes", e.TokenTypes);
        w.WriteString("positions", EncoderFacts.Positions);
        w.WriteString("norm", EncoderFacts.Norm);
        w.WriteString("activation", EncoderFacts.Activation);
        w.WriteString("attention", EncoderFacts.Attention);
        w.WriteString("pooling", e.Pooling);
        w.WriteBoolean("normalize", e.Normalize);
    }

    /// <summary>The tensor names that differ from GGUF's (the reader takes GGUF's for the rest); nothing when none do.</summary>
    private static void WriteTensors(Utf8JsonWriter w, TensorNames names)
    {
        var d = TensorNames.Gguf;
        (string Key, string Name, string Default)[] entries =
        [
            ("tokenEmbedding", names.TokenEmbedding, d.TokenEmbedding),
            ("outputNorm", names.OutputNorm, d.OutputNorm),
            ("output", names.Output, d.Output),
            ("attentionNorm", names.AttentionNorm, d.AttentionNorm),
            ("query", names.Query, d.Query),
            ("key", names.Key, d.Key),
            ("value", names.Value, d.Value),
            ("attentionOutput", names.AttentionOutput, d.AttentionOutput),
            ("feedForwardNorm", names.FeedForwardNorm, d.FeedForwardNorm),
            ("gate", names.Gate, d.Gate),
            ("up", names.Up, d.Up),
            ("down", names.Down, d.Down),
            ("queryBias", names.QueryBias, d.QueryBias),
            ("keyBias", names.KeyBias, d.KeyBias),
            ("valueBias", names.ValueBias, d.ValueBias),
            ("ropeFrequencies", names.RopeFrequencies, d.RopeFrequencies),
        ];
        if (entries.All(e => e.Name == e.Default)) return;
        w.WriteStartObject("tensors");
        foreach (var (key, name, fallback) in entries)
            if (name != fallback) w.WriteString(key, name);
        w.WriteEndObject();
    }
}
