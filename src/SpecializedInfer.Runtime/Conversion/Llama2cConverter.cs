using System.Buffers.Binary;
using System.Text;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Conversion;

/// <summary>The 7-int32 header of a llama2.c checkpoint, validated.</summary>
/// <param name="Dim">Transformer width (embedding length).</param>
/// <param name="HiddenDim">Feed-forward width.</param>
/// <param name="Layers">Number of transformer blocks.</param>
/// <param name="Heads">Number of query heads.</param>
/// <param name="KvHeads">Number of key/value heads (fewer than <paramref name="Heads"/> for grouped-query attention).</param>
/// <param name="VocabSize">Vocabulary size (always positive here).</param>
/// <param name="SharedClassifier">True when the header's vocab_size was positive: the classifier is the embedding.</param>
/// <param name="SeqLen">Maximum sequence length the model was trained with.</param>
public sealed record Llama2cConfig(int Dim, int HiddenDim, int Layers, int Heads, int KvHeads, int VocabSize, bool SharedClassifier, int SeqLen)
{
    public int HeadSize => Dim / Heads;
    public int KvDim => KvHeads * HeadSize;
}

/// <summary>
/// A llama2.c tokenizer after llama.cpp's conversion rules: texts with spaces escaped, scores, token types.
/// <see cref="Offsets"/>: where each token's record (score, length, text) starts in the tokenizer file.
/// </summary>
public sealed record Llama2cVocabulary(string[] Tokens, float[] Scores, int[] TokenTypes)
{
    public long[] Offsets { get; init; } = [];
}

/// <summary>
/// Converts a llama2.c checkpoint and its tokenizer file into GGUF exactly as llama.cpp's
/// <c>examples/convert-llama2c-to-ggml</c> does: the same metadata keys, types, values and order, the same tensor
/// names, order, shapes and (F32) data. Every malformation of either input throws <see cref="ModelFormatException"/>
/// naming the file, the byte offset and what was expected there, before anything is written; so does an input that
/// would convert to a file the loader refuses (the same <see cref="LlamaModelRules"/>: an odd head size, which makes an
/// odd rotary count, sizes past the loader's limits, duplicate token texts, byte-like tokens not spelt &lt;0xNN&gt;).
/// </summary>
public static class Llama2cConverter
{
    /// <summary>Bytes in a llama2.c checkpoint header: 7 little-endian int32.</summary>
    public const int HeaderBytes = 7 * 4;

    // llama.cpp's llama_token_type.
    public const int TokenTypeNormal = 1;
    public const int TokenTypeUnknown = 2;
    public const int TokenTypeControl = 3;
    public const int TokenTypeByte = 6;

    private const int UnknownTokenId = 0;
    private const int BosTokenId = 1;
    private const int EosTokenId = 2;
    private const uint NullTokenId = uint.MaxValue; // LLAMA_TOKEN_NULL (-1) stored as uint32
    private const int MaxRopeDimensions = 64; // the converter's default n_rotmax
    private const float RmsEpsilon = 1e-5f;
    private const float RopeFreqBase = 10000f; // not written: the loader's default, as in llama.cpp

    /// <summary>The largest tokenizer file read: llama.cpp-sized vocabularies (256k tokens) take a few megabytes.</summary>
    public const int MaxTokenizerBytes = 256 << 20;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Converts <paramref name="checkpointPath"/> (llama2.c <c>.bin</c>) plus <paramref name="tokenizerPath"/>
    /// (llama2.c <c>tokenizer.bin</c>) into a GGUF file at <paramref name="outputPath"/>.
    /// <paramref name="contextLength"/> becomes <c>llama.context_length</c>; it defaults to the checkpoint's seq_len.
    /// The output is written to a temporary file first and moved into place, so a failure leaves no partial file.
    /// </summary>
    public static void Convert(string checkpointPath, string tokenizerPath, string outputPath, int? contextLength = null)
    {
        CreateWriter(checkpointPath, tokenizerPath, contextLength).Write(outputPath); // written aside, then moved into place
    }

    /// <summary>Reads and validates both inputs and returns a writer holding the complete GGUF model.</summary>
    public static GgufWriter CreateWriter(string checkpointPath, string tokenizerPath, int? contextLength = null)
    {
        if (contextLength is <= 0 or > ModelLimits.MaxContextLength)
            throw new ArgumentOutOfRangeException($"The context length must be between 1 and {ModelLimits.MaxContextLength}, not {contextLength}.", innerException: null);

        var checkpoint = Path.GetFullPath(checkpointPath);
        Llama2cConfig config;
        CheckpointLayout layout;
        using (var handle = File.OpenHandle(checkpoint))
        {
            config = ReadConfig(handle, checkpoint);
            layout = Layout(config, RandomAccess.GetLength(handle), checkpoint);
        }
        var vocab = ReadTokenizer(tokenizerPath, config.VocabSize);
        CheckLoadable(config, contextLength ?? config.SeqLen, vocab, checkpoint, Path.GetFullPath(tokenizerPath));

        var writer = new GgufWriter();
        writer.Add("tokenizer.ggml.tokens", vocab.Tokens);
        writer.Add("tokenizer.ggml.scores", vocab.Scores);
        writer.Add("tokenizer.ggml.token_type", vocab.TokenTypes);
        writer.Add("tokenizer.ggml.model", "llama");
        writer.Add("general.architecture", "llama");
        writer.Add("general.name", "llama");
        writer.Add("tokenizer.ggml.unknown_token_id", (uint)UnknownTokenId);
        writer.Add("tokenizer.ggml.bos_token_id", (uint)BosTokenId);
        writer.Add("tokenizer.ggml.eos_token_id", (uint)EosTokenId);
        writer.Add("tokenizer.ggml.seperator_token_id", NullTokenId); // sic: llama.cpp's spelling
        writer.Add("tokenizer.ggml.padding_token_id", NullTokenId);
        writer.Add("llama.context_length", (uint)(contextLength ?? config.SeqLen));
        writer.Add("llama.embedding_length", (uint)config.Dim);
        writer.Add("llama.feed_forward_length", (uint)config.HiddenDim);
        writer.Add("llama.attention.head_count", (uint)config.Heads);
        writer.Add("llama.attention.head_count_kv", (uint)config.KvHeads);
        writer.Add("llama.block_count", (uint)config.Layers);
        writer.Add("llama.rope.dimension_count", (uint)RopeDimensions(config));
        writer.Add("llama.attention.layer_norm_rms_epsilon", RmsEpsilon);

        long dim = config.Dim, hidden = config.HiddenDim, kvDim = config.KvDim, vocabSize = config.VocabSize;
        // Tensors are read from the checkpoint only while the GGUF is written, one at a time, so converting a
        // multi-gigabyte checkpoint never holds the whole model in memory. The layout was validated above; a file
        // that shrinks in between fails the read loudly.
        void Add(string name, long[] dims, Section section, int layer = 0)
        {
            var offset = section.Offset + layer * section.FloatsPerLayer * 4;
            var length = (int)(section.FloatsPerLayer * 4);
            writer.AddTensor(name, dims, GgmlType.F32, () =>
            {
                var bytes = new byte[length];
                using var file = File.OpenHandle(checkpoint);
                for (var done = 0; done < length;)
                {
                    var n = RandomAccess.Read(file, bytes.AsSpan(done), offset + done);
                    if (n <= 0)
                        throw new ModelFormatException(checkpoint, offset + done, $"{length - done} more bytes of {section.Name} (the file shrank during conversion)");
                    done += n;
                }
                return bytes;
            });
        }

        Add("token_embd.weight", [dim, vocabSize], layout.Embedding);
        Add("output_norm.weight", [dim], layout.RmsFinal);
        Add("output.weight", [dim, vocabSize], layout.Classifier ?? layout.Embedding);
        for (var i = 0; i < config.Layers; i++)
        {
            Add($"blk.{i}.attn_q.weight", [dim, dim], layout.Wq, i);
            Add($"blk.{i}.attn_k.weight", [dim, kvDim], layout.Wk, i);
            Add($"blk.{i}.attn_v.weight", [dim, kvDim], layout.Wv, i);
            Add($"blk.{i}.attn_output.weight", [dim, dim], layout.Wo, i);
            Add($"blk.{i}.attn_norm.weight", [dim], layout.RmsAtt, i);
            Add($"blk.{i}.ffn_gate.weight", [dim, hidden], layout.W1, i);
            Add($"blk.{i}.ffn_down.weight", [hidden, dim], layout.W2, i);
            Add($"blk.{i}.ffn_up.weight", [dim, hidden], layout.W3, i);
            Add($"blk.{i}.ffn_norm.weight", [dim], layout.RmsFfn, i);
        }
        return writer;
    }

    private static int RopeDimensions(Llama2cConfig c) => Math.Min(MaxRopeDimensions, c.HeadSize);

    /// <summary>
    /// Applies the loader's rules to what the conversion would write, before anything is written: a topology problem
    /// points at the checkpoint header field it comes from, a token problem at that token's record in the tokenizer.
    /// </summary>
    private static void CheckLoadable(Llama2cConfig c, int contextLength, Llama2cVocabulary vocab, string checkpoint, string tokenizer)
    {
        var config = new LlamaConfig
        {
            Architecture = "llama", Dim = c.Dim, HiddenDim = c.HiddenDim, Layers = c.Layers, Heads = c.Heads, KvHeads = c.KvHeads,
            HeadDim = c.HeadSize, RotaryDims = RopeDimensions(c), RopeTheta = RopeFreqBase, NormEps = RmsEpsilon,
            VocabSize = c.VocabSize, ContextLength = contextLength, TiedOutput = false,
        };
        if ((LlamaModelRules.CheckDerivedHeadWidth("llama", c.Dim, c.Heads) ?? LlamaModelRules.CheckTopology(config)) is { } topology)
        {
            // Header fields: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len (4 bytes each).
            var field = topology.Key switch
            {
                "llama.embedding_length" => 0,
                "llama.feed_forward_length" => 1,
                "llama.block_count" => 2,
                "llama.attention.head_count_kv" => 4,
                LlamaModelRules.EmbeddingTensor => 5,
                "llama.context_length" => 6,
                _ => 3, // head count, head size and rotary count all follow from n_heads
            };
            throw new ModelFormatException(checkpoint, field * 4,
                $"header values that convert to a model the loader accepts; the GGUF would fail its check of {topology.Expected}");
        }
        if ((LlamaModelRules.CheckVocabularySize(vocab.Tokens.Length, c.VocabSize) ?? LlamaModelRules.CheckTokens(vocab.Tokens, vocab.TokenTypes)) is { } tokens)
            throw new ModelFormatException(tokenizer, tokens.Token is { } id && id < vocab.Offsets.Length ? vocab.Offsets[id] : 0,
                $"a vocabulary the loader accepts (as llama.cpp converts it: spaces escaped, texts like <0x..> typed as byte tokens): {tokens.Expected}");
    }

    /// <summary>Reads and validates a checkpoint's header and checks the file holds exactly the weights it implies.</summary>
    public static Llama2cConfig ReadConfig(string checkpointPath)
    {
        var checkpoint = Path.GetFullPath(checkpointPath);
        using var handle = File.OpenHandle(checkpoint);
        var config = ReadConfig(handle, checkpoint);
        Layout(config, RandomAccess.GetLength(handle), checkpoint);
        return config;
    }

    /// <summary>
    /// Reads a llama2.c tokenizer file of exactly <paramref name="vocabSize"/> tokens and applies llama.cpp's rules:
    /// tokens 0/1/2 become &lt;unk&gt;/&lt;s&gt;/&lt;/s&gt; (UNKNOWN/CONTROL/CONTROL), empty tokens CONTROL,
    /// <c>&lt;0xNN&gt;</c> tokens BYTE, the rest NORMAL; spaces become U+2581.
    /// </summary>
    public static Llama2cVocabulary ReadTokenizer(string tokenizerPath, int vocabSize)
    {
        if (vocabSize < 0) throw new ArgumentOutOfRangeException($"A vocabulary size is 0 or more, not {vocabSize}.", innerException: null);
        var path = Path.GetFullPath(tokenizerPath);
        ModelFormatException Error(long at, string expected) => new(path, at, expected);
        var data = BoundedFile.ReadAllBytes(path, MaxTokenizerBytes, length => Error(0, length is { } n
            ? $"a llama2.c tokenizer file of at most {MaxTokenizerBytes} bytes, found {n} bytes"
            : "a regular file (this is a device, a pipe, or a file that changed while it was read)"));

        if (data.Length < 4)
            throw Error(0, $"an int32 max_token_length at the start of the llama2.c tokenizer file, but the file has only {data.Length} bytes");
        var maxTokenLength = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (maxTokenLength < 0)
            throw Error(0, $"a non-negative max_token_length, found {maxTokenLength}");

        var tokens = new string[vocabSize];
        var scores = new float[vocabSize];
        var types = new int[vocabSize];
        var offsets = new long[vocabSize];
        var p = 4;
        for (var id = 0; id < vocabSize; id++)
        {
            if (data.Length - p < 8)
                throw Error(p, $"token {id}'s float score and int32 length (8 bytes), but only {data.Length - p} bytes remain: " +
                               $"the file ends after {id} of the {vocabSize} tokens the checkpoint's vocab_size calls for");
            var score = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(p));
            var length = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(p + 4));
            var remaining = data.Length - (p + 8);
            if (length < 0 || length > remaining)
                throw Error(p + 4, $"a length for token {id} between 0 and the {remaining} bytes that remain, found {length}");
            var raw = data.AsSpan(p + 8, length);
            string text;
            try { text = StrictUtf8.GetString(raw); }
            catch (DecoderFallbackException e) { throw new ModelFormatException(path, p + 8, $"token {id}'s {length} bytes as valid UTF-8", e); }

            int type;
            if (id == UnknownTokenId) (text, type) = ("<unk>", TokenTypeUnknown);
            else if (id == BosTokenId) (text, type) = ("<s>", TokenTypeControl);
            else if (id == EosTokenId) (text, type) = ("</s>", TokenTypeControl);
            else if (length == 0) type = TokenTypeControl;
            else if (LooksLikeByteToken(raw)) type = TokenTypeByte;
            else type = TokenTypeNormal;

            tokens[id] = text.Replace(' ', '\u2581');
            scores[id] = score;
            types[id] = type;
            offsets[id] = p;
            p += 8 + length;
        }
        if (p != data.Length)
            throw Error(p, $"the end of the file after {vocabSize} tokens (the checkpoint's vocab_size), found {data.Length - p} more bytes: " +
                           "a tokenizer for a different vocabulary?");
        return new Llama2cVocabulary(tokens, scores, types) { Offsets = offsets };
    }

    /// <summary>
    /// What llama.cpp's <c>sscanf(text, "&lt;0x%02hhX&gt;", &amp;b) == 1</c> accepts: the literal "&lt;0x", optional
    /// white space, then within a field of two characters an optional sign and at least one hex digit.
    /// </summary>
    private static bool LooksLikeByteToken(ReadOnlySpan<byte> text)
    {
        if (!text.StartsWith("<0x"u8)) return false;
        var i = 3;
        while (i < text.Length && text[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r') i++;
        var width = 2;
        if (i < text.Length && text[i] is (byte)'+' or (byte)'-') { i++; width--; }
        return width > 0 && i < text.Length && char.IsAsciiHexDigit((char)text[i]);
    }

    private static Llama2cConfig ReadConfig(Microsoft.Win32.SafeHandles.SafeFileHandle handle, string path)
    {
        var length = RandomAccess.GetLength(handle);
        Span<byte> header = stackalloc byte[HeaderBytes];
        if (length < HeaderBytes || RandomAccess.Read(handle, header, 0) != HeaderBytes)
            throw new ModelFormatException(path, 0,
                $"a {HeaderBytes}-byte llama2.c header (7 int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), but the file has only {length} bytes");
        var f = new int[7];
        for (var i = 0; i < f.Length; i++) f[i] = BinaryPrimitives.ReadInt32LittleEndian(header[(i * 4)..]);
        int dim = f[0], hidden = f[1], layers = f[2], heads = f[3], kvHeads = f[4], vocab = f[5], seqLen = f[6];
        ModelFormatException Bad(int field, string expected) => new(path, field * 4, expected);

        if (dim < 1) throw Bad(0, $"a positive dim, found {dim}");
        if (hidden < 1) throw Bad(1, $"a positive hidden_dim, found {hidden}");
        if (layers < 1) throw Bad(2, $"a positive n_layers, found {layers}");
        if (heads < 1 || dim % heads != 0) throw Bad(3, $"a positive n_heads dividing dim {dim}, found {heads}");
        if (kvHeads < 1 || kvHeads > heads || heads % kvHeads != 0)
            throw Bad(4, $"a positive n_kv_heads dividing n_heads {heads}, found {kvHeads}");
        if (vocab is > -3 and < 3 || vocab == int.MinValue)
            throw Bad(5, $"a vocab_size of at least 3 tokens (<unk>, <s>, </s>; negative for a separate classifier), found {vocab}");
        if (seqLen < 1) throw Bad(6, $"a positive seq_len, found {seqLen}");
        return new Llama2cConfig(dim, hidden, layers, heads, kvHeads, Math.Abs(vocab), vocab > 0, seqLen);
    }

    /// <summary>One array of the checkpoint: <see cref="Layers"/> consecutive blocks of <see cref="FloatsPerLayer"/> floats.</summary>
    private sealed record Section(string Name, long Offset, long FloatsPerLayer, long Layers);

    private sealed record CheckpointLayout(
        Section Embedding, Section RmsAtt, Section Wq, Section Wk, Section Wv, Section Wo, Section RmsFfn,
        Section W1, Section W2, Section W3, Section RmsFinal, Section FreqCis, Section? Classifier);

    /// <summary>Places every array of the checkpoint and checks that they exactly fill the file.</summary>
    private static CheckpointLayout Layout(Llama2cConfig c, long fileLength, string path)
    {
        long offset = HeaderBytes;
        var header = $"dim={c.Dim}, hidden_dim={c.HiddenDim}, n_layers={c.Layers}, n_heads={c.Heads}, n_kv_heads={c.KvHeads}, " +
                     $"vocab_size={(c.SharedClassifier ? c.VocabSize : -c.VocabSize)}, seq_len={c.SeqLen}";
        // Products of header values fit Int128 with room to spare; anything past the file length is rejected below.
        Section Next(string name, Int128 perLayer, long layers = 1)
        {
            var bytes = perLayer * layers * 4;
            if (bytes > fileLength - offset)
                throw new ModelFormatException(path, offset,
                    $"{name}: {layers} x {perLayer} float32 ({bytes} bytes) from offset {offset}, but the file ends at {fileLength}: " +
                    $"a truncated checkpoint, or header values ({header}) that do not match it");
            if (perLayer * 4 > Array.MaxLength)
                throw new ModelFormatException(path, offset, $"{name}: a tensor of at most {Array.MaxLength} bytes, found {perLayer * 4}");
            var section = new Section(name, offset, (long)perLayer, layers);
            offset += (long)bytes;
            return section;
        }

        long dim = c.Dim, hidden = c.HiddenDim, layers = c.Layers;
        var layout = new CheckpointLayout(
            Embedding: Next("token_embedding_table (vocab_size x dim)", (Int128)c.VocabSize * dim),
            RmsAtt: Next("rms_att_weight (n_layers x dim)", dim, layers),
            Wq: Next("wq (n_layers x dim x dim)", (Int128)dim * dim, layers),
            Wk: Next("wk (n_layers x dim x kv_dim)", (Int128)dim * c.KvDim, layers),
            Wv: Next("wv (n_layers x dim x kv_dim)", (Int128)dim * c.KvDim, layers),
            Wo: Next("wo (n_layers x dim x dim)", (Int128)dim * dim, layers),
            RmsFfn: Next("rms_ffn_weight (n_layers x dim)", dim, layers),
            W1: Next("w1 (n_layers x hidden_dim x dim)", (Int128)hidden * dim, layers),
            W2: Next("w2 (n_layers x dim x hidden_dim)", (Int128)hidden * dim, layers),
            W3: Next("w3 (n_layers x hidden_dim x dim)", (Int128)hidden * dim, layers),
            RmsFinal: Next("rms_final_weight (dim)", dim),
            FreqCis: Next("freq_cis_real and freq_cis_imag (2 x seq_len x head_size / 2)", (Int128)c.SeqLen * c.HeadSize),
            Classifier: c.SharedClassifier ? null : Next("wcls (vocab_size x dim)", (Int128)c.VocabSize * dim));
        if (offset != fileLength)
            throw new ModelFormatException(path, offset,
                $"the end of the checkpoint after {(c.SharedClassifier ? "freq_cis_imag" : "wcls")} at offset {offset}, but the file has " +
                $"{fileLength - offset} more bytes: header values ({header}) that do not match the weights" +
                (c.SharedClassifier ? " (a negative vocab_size means a separate classifier follows)" : ""));
        return layout;
    }
}
