using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using SpecializedInfer.Conversion;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Tests.Gguf;

public sealed class Llama2cConverterTests : IDisposable
{
    private const string ShippedSha256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
    private const int CheckpointLength = 1056540;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Converted_file_matches_the_shipped_gguf_in_every_tensor_and_the_tokenizer()
    {
        var output = _temp.File("default-context.gguf");
        Llama2cConverter.Convert(ShippedModels.CheckpointPath, ShippedModels.TokenizerPath, output);

        using var converted = GgufFile.Open(output);
        using var shipped = GgufFile.Open(ShippedModels.GgufPath);

        Assert.Equal(shipped.Tensors.Select(t => t.Name), converted.Tensors.Select(t => t.Name));
        foreach (var expected in shipped.Tensors)
        {
            var actual = converted.GetTensor(expected.Name);
            Assert.Equal(expected.Dimensions, actual.Dimensions);
            Assert.Equal(expected.Type, actual.Type);
            Assert.Equal(expected.DataOffset, actual.DataOffset);
            Assert.True(shipped.GetBytes(expected).SequenceEqual(converted.GetBytes(actual)), $"tensor {expected.Name} differs");
        }

        Assert.Equal(shipped.GetArray<string>("tokenizer.ggml.tokens"), converted.GetArray<string>("tokenizer.ggml.tokens"));
        Assert.Equal(Bits(shipped.GetArray<float>("tokenizer.ggml.scores")), Bits(converted.GetArray<float>("tokenizer.ggml.scores")));
        Assert.Equal(shipped.GetArray<int>("tokenizer.ggml.token_type"), converted.GetArray<int>("tokenizer.ggml.token_type"));
        foreach (var key in new[] { "tokenizer.ggml.model", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.bos_token_id",
                     "tokenizer.ggml.eos_token_id", "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.padding_token_id" })
            Assert.Equal(shipped.Find(key)! with { Offset = 0 }, converted.Find(key)! with { Offset = 0 });

        // Same keys, types and order; only the context length differs (the checkpoint's seq_len is the default).
        Assert.Equal(shipped.Metadata.Select(kv => (kv.Key, kv.Value.Type, kv.Value.ElementType)),
            converted.Metadata.Select(kv => (kv.Key, kv.Value.Type, kv.Value.ElementType)));
        Assert.Equal(512, converted.GetInteger("llama.context_length"));
        foreach (var (key, value) in shipped.Metadata.Where(kv => kv.Value.Type != GgufValueType.Array && kv.Key != "llama.context_length"))
            Assert.Equal(value with { Offset = 0 }, converted.Find(key)! with { Offset = 0 });
    }

    [Fact]
    public void Converted_file_with_context_2048_is_byte_identical_to_the_shipped_gguf()
    {
        var output = _temp.File("ctx2048.gguf");
        Llama2cConverter.Convert(ShippedModels.CheckpointPath, ShippedModels.TokenizerPath, output, contextLength: 2048);

        var bytes = File.ReadAllBytes(output);
        Assert.Equal(ShippedSha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.True(ShippedModels.GgufBytes().AsSpan().SequenceEqual(bytes));
        Assert.Empty(Directory.GetFiles(_temp.Path, "*.tmp-*"));
    }

    [Fact]
    public void Tokenizer_rules_follow_llama_cpp()
    {
        var vocab = Llama2cConverter.ReadTokenizer(ShippedModels.TokenizerPath, 512);
        Assert.Equal(["<unk>", "<s>", "</s>", "<0x00>"], vocab.Tokens[..4]);
        Assert.Equal([2, 3, 3, 6], vocab.TokenTypes[..4]);
        Assert.Equal("\u2581t", vocab.Tokens[259]);
        Assert.Equal(1, vocab.TokenTypes[259]);
        Assert.Equal("<0xFF>", vocab.Tokens[258]);
        Assert.Equal(6, vocab.TokenTypes[258]);

        // Edge cases of llama.cpp's rules on a hand-made tokenizer: empty text is CONTROL, byte tokens are whatever
        // sscanf("<0x%02hhX>") accepts (a hex digit after "<0x"), all other texts NORMAL with spaces escaped.
        var texts = new[] { "x", "y", "z", "", "<0xZZ>", "<0x4", "<0x+A>", " a b ", "<0X41>", "\u00e9\u2122" };
        var path = _temp.Write("edge-tok.bin", Tokenizer(7, texts.Select((t, i) => (-(float)i, Encoding.UTF8.GetBytes(t)))));
        var edge = Llama2cConverter.ReadTokenizer(path, texts.Length);
        Assert.Equal(["<unk>", "<s>", "</s>", "", "<0xZZ>", "<0x4", "<0x+A>", "\u2581a\u2581b\u2581", "<0X41>", "\u00e9\u2122"], edge.Tokens);
        Assert.Equal([2, 3, 3, 3, 1, 6, 6, 1, 1, 1], edge.TokenTypes);
        Assert.Equal(texts.Select((_, i) => -(float)i), edge.Scores);
    }

    [Fact]
    public void Separate_classifier_becomes_output_weight()
    {
        // vocab_size negative: a (vocab x dim) classifier follows freq_cis; use a recognisable pattern for it.
        var classifier = new float[512 * 64];
        for (var i = 0; i < classifier.Length; i++) classifier[i] = i * 0.25f - 7;
        var checkpoint = ShippedModels.CheckpointBytes().I32(20, -512).Append(MemoryMarshal.AsBytes(classifier.AsSpan()).ToArray());
        var output = _temp.File("wcls.gguf");
        Llama2cConverter.Convert(_temp.Write("wcls.bin", checkpoint), ShippedModels.TokenizerPath, output, 1024);

        using var gguf = GgufFile.Open(output);
        Assert.Equal(classifier, gguf.GetFloat32("output.weight").ToArray());
        using var shipped = GgufFile.Open(ShippedModels.GgufPath);
        Assert.True(shipped.GetFloat32("token_embd.weight").SequenceEqual(gguf.GetFloat32("token_embd.weight")));
        Assert.Equal(1024, gguf.GetInteger("llama.context_length"));
        Assert.Equal(new Llama2cConfig(64, 172, 5, 8, 4, 512, false, 512), Llama2cConverter.ReadConfig(_temp.File("wcls.bin")));
    }

    [Fact]
    public void Context_length_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Llama2cConverter.Convert(ShippedModels.CheckpointPath, ShippedModels.TokenizerPath, _temp.File("x.gguf"), 0));
        // Past the loader's limit (2^24 positions) the file would be written and then refused by si run.
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Llama2cConverter.Convert(ShippedModels.CheckpointPath, ShippedModels.TokenizerPath, _temp.File("x.gguf"), (1 << 24) + 1));
        Assert.Contains("between 1 and 16777216", e.Message);
        Assert.False(File.Exists(_temp.File("x.gguf")));
    }

    /// <summary>A broken input: the bytes of the checkpoint and tokenizer, and where the error must point (null: anywhere).</summary>
    public sealed record BadInput(byte[] Checkpoint, byte[] Tokenizer, bool CheckpointIsBad, long? Offset)
    {
        /// <summary>A tokenizer path to use instead of writing <see cref="Tokenizer"/> (a device).</summary>
        public string? TokenizerPath { get; init; }
    }

    private static BadInput BadCheckpoint(byte[] bytes, long? offset) => new(bytes, ShippedModels.TokenizerBytes(), true, offset);

    private static BadInput BadTokenizer(byte[] bytes, long? offset) => new(ShippedModels.CheckpointBytes(), bytes, false, offset);

    // Offsets in stories260K.bin: header 0..28, token_embedding_table 28 (131072 bytes), rms_att 131100, wq 132380,
    // wk 214300, wv 255260, wo 296220, rms_ffn 378140, w1 379420, w2 599580, w3 819740, rms_final 1039900,
    // freq_cis 1040156 (16384 bytes) to 1056540.
    private static readonly Dictionary<string, Func<BadInput>> BadInputs = new()
    {
        ["checkpoint empty"] = () => BadCheckpoint([], 0),
        ["checkpoint 10 bytes"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().Take(10), 0),
        ["checkpoint 27 bytes"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().Take(27), 0),
        ["checkpoint header only"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().Take(28), 28),
        ["checkpoint cut in the embedding"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().Take(1000), 28),
        ["checkpoint cut in w2"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().Take(700_000), 599580),
        ["checkpoint cut in freq_cis"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().Take(CheckpointLength - 1), 1040156),
        ["checkpoint with trailing bytes"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().Append(1, 2, 3, 4), CheckpointLength),
        ["checkpoint claims a separate classifier it lacks"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(20, -512), CheckpointLength),
        ["dim 0"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(0, 0), 0),
        ["dim negative"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(0, -64), 0),
        ["dim absurd"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(0, 1 << 30).I32(12, 1).I32(16, 1), 28),
        ["dim slightly wrong"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(0, 72), null),
        ["hidden_dim 0"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(4, 0), 4),
        ["hidden_dim absurd"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(4, int.MaxValue), 379420),
        ["n_layers negative"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(8, -5), 8),
        ["n_layers absurd"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(8, int.MaxValue), 131100),
        ["n_heads 0"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(12, 0), 12),
        ["n_heads not dividing dim"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(12, 3), 12),
        ["n_kv_heads 0"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(16, 0), 16),
        ["n_kv_heads above n_heads"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(16, 16), 16),
        ["n_kv_heads not dividing n_heads"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(16, 3), 16),
        ["vocab_size 0"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(20, 0), 20),
        ["vocab_size int.MinValue"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(20, int.MinValue), 20),
        ["vocab_size absurd"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(20, int.MaxValue), 28),
        ["seq_len 0"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(24, 0), 24),
        ["seq_len negative"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(24, -512), 24),
        ["seq_len absurd"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(24, int.MaxValue), 1040156),
        ["tokenizer empty"] = () => BadTokenizer([], 0),
        ["tokenizer 3 bytes"] = () => BadTokenizer(ShippedModels.TokenizerBytes().Take(3), 0),
        ["tokenizer max_token_length only"] = () => BadTokenizer(ShippedModels.TokenizerBytes().Take(4), 4),
        ["tokenizer cut in a score"] = () => BadTokenizer(ShippedModels.TokenizerBytes().Take(6), 4),
        ["tokenizer cut in a text"] = () => BadTokenizer(ShippedModels.TokenizerBytes().Take(4 + 8 + 2), 8),
        ["tokenizer one token short"] = () => BadTokenizer(ShippedModels.TokenizerBytes().Take(6227 - 3 - 8), 6227 - 11),
        ["tokenizer negative max_token_length"] = () => BadTokenizer(ShippedModels.TokenizerBytes().I32(0, -1), 0),
        ["tokenizer negative length"] = () => BadTokenizer(ShippedModels.TokenizerBytes().I32(8, -5), 8),
        ["tokenizer huge length"] = () => BadTokenizer(ShippedModels.TokenizerBytes().I32(8, int.MaxValue), 8),
        ["tokenizer length past the end"] = () => BadTokenizer(ShippedModels.TokenizerBytes().I32(6227 - 3 - 4, 4), 6227 - 7),
        ["tokenizer invalid UTF-8"] = () => BadTokenizer(ShippedModels.TokenizerBytes().Set(52, 0xFF), 52), // token 3, "<0x00>"
        ["tokenizer with trailing bytes"] = () => BadTokenizer(ShippedModels.TokenizerBytes().Append(0, 0, 0, 0, 0, 0, 0, 0), 6227),

        // Inputs that convert cleanly but to a file the loader refuses: the converter applies the loader's rules.
        // 64 heads of size 1 (4 KV heads... 32, and seq_len 4096 keep every array's size): an odd rotary count of 1.
        ["head size 1 (odd rotary dimension count)"] = () => BadCheckpoint(ShippedModels.CheckpointBytes().I32(12, 64).I32(16, 32).I32(24, 4096), 12),
        ["5000 layers (past the loader's 4096)"] = () => new BadInput(Checkpoint(dim: 2, hidden: 1, layers: 5000, heads: 1, kvHeads: 1, vocab: 3, seqLen: 1),
            Tokenizer(1, [(0f, "a"u8.ToArray()), (0f, "b"u8.ToArray()), (0f, "c"u8.ToArray())]), true, 8),
        ["duplicate token texts"] = () => BadTokenizer(EditTokens(t => t[401] = t[400]), TokenRecordOffset(401)),
        ["duplicate texts once spaces are escaped"] = () => BadTokenizer(EditTokens(t => { t[300] = "a b"u8.ToArray(); t[301] = "a\u2581b"u8.ToArray(); }), TokenRecordOffset(301)),
        ["byte-like token '<0x1'"] = () => BadTokenizer(EditTokens(t => t[300] = "<0x1"u8.ToArray()), TokenRecordOffset(300)),
        ["byte-like token '<0x123>'"] = () => BadTokenizer(EditTokens(t => t[300] = "<0x123>"u8.ToArray()), TokenRecordOffset(300)),
        ["byte-like token '<0x-F>'"] = () => BadTokenizer(EditTokens(t => t[300] = "<0x-F>"u8.ToArray()), TokenRecordOffset(300)),
        ["tokenizer /dev/zero"] = () => new BadInput(ShippedModels.CheckpointBytes(), [], false, 0) { TokenizerPath = "/dev/zero" },
    };

    /// <summary>tok512.bin parsed into max_token_length and its (score, text) records.</summary>
    private static (int MaxLength, List<(float Score, byte[] Text)> Records) ParseTokenizer(byte[] data)
    {
        var records = new List<(float, byte[])>();
        for (var p = 4; p < data.Length;)
        {
            var length = BitConverter.ToInt32(data, p + 4);
            records.Add((BitConverter.ToSingle(data, p), data.AsSpan(p + 8, length).ToArray()));
            p += 8 + length;
        }
        return (BitConverter.ToInt32(data, 0), records);
    }

    /// <summary>tok512.bin with some token texts replaced (index = token id).</summary>
    private static byte[] EditTokens(Action<byte[][]> edit)
    {
        var (maxLength, records) = ParseTokenizer(ShippedModels.TokenizerBytes());
        var texts = records.Select(r => r.Text).ToArray();
        edit(texts);
        return Tokenizer(maxLength, records.Select((r, i) => (r.Score, texts[i])));
    }

    /// <summary>Where token <paramref name="id"/>'s record starts in an edited tok512.bin (edits at or past it do not move it).</summary>
    private static long TokenRecordOffset(int id) =>
        4 + ParseTokenizer(ShippedModels.TokenizerBytes()).Records.Take(id).Sum(r => 8L + r.Text.Length);

    /// <summary>A llama2.c checkpoint of the given header (shared classifier), every weight zero, and exactly the size it implies.</summary>
    internal static byte[] Checkpoint(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen)
    {
        long kvDim = (long)kvHeads * (dim / heads);
        var floats = (long)vocab * dim + layers * (2L * dim + 2L * dim * dim + 2L * dim * kvDim + 3L * dim * hidden) + dim + (long)seqLen * (dim / heads);
        var bytes = new byte[Llama2cConverter.HeaderBytes + floats * 4];
        int[] header = [dim, hidden, layers, heads, kvHeads, vocab, seqLen];
        for (var i = 0; i < header.Length; i++) bytes.I32(i * 4, header[i]);
        return bytes;
    }

    public static TheoryData<string> BadInputNames => [.. BadInputs.Keys];

    [Theory]
    [MemberData(nameof(BadInputNames))]
    public void Bad_input_throws_naming_file_offset_and_expectation(string name)
    {
        var input = BadInputs[name]();
        var checkpoint = _temp.Write("model.bin", input.Checkpoint);
        var tokenizer = input.TokenizerPath ?? _temp.Write("tok.bin", input.Tokenizer);
        var output = _temp.File("out.gguf");

        var e = Record.Exception(() => Llama2cConverter.Convert(checkpoint, tokenizer, output));

        Assert.NotNull(e);
        Assert.Equal(typeof(ModelFormatException), e.GetType()); // exactly: not IndexOutOfRange, Overflow, OutOfMemory...
        var error = (ModelFormatException)e;
        var bad = input.CheckpointIsBad ? checkpoint : tokenizer;
        Assert.Equal(bad, error.FilePath);
        Assert.InRange(error.Offset, 0, new FileInfo(bad).Length);
        if (input.Offset is { } offset) Assert.Equal(offset, error.Offset);
        Assert.False(string.IsNullOrWhiteSpace(error.Expected));
        Assert.Contains(bad, error.Message);
        Assert.False(File.Exists(output));
        Assert.Equal(input.TokenizerPath is null ? 2 : 1, Directory.GetFiles(_temp.Path).Length);
    }

    /// <summary>
    /// The converter and the loader agree: over seeded mutations of stories260K.bin and tok512.bin (header reshapes
    /// that keep the file's layout, odd head sizes, random header values, duplicate, byte-like, empty and random token
    /// texts, flipped tokenizer bytes), every conversion either fails with a <see cref="ModelFormatException"/> and
    /// writes nothing, or writes a file that si run's load path (engine, tokenizer, a forward pass) accepts. Before
    /// the converter applied the loader's rules, a large share converted into files si run refused.
    /// </summary>
    [Fact]
    public void Every_successful_conversion_of_a_mutated_stories260K_loads_and_runs()
    {
        const int Seeds = 400;
        var (maxLength, records) = ParseTokenizer(ShippedModels.TokenizerBytes());
        int converted = 0, refused = 0;
        for (var seed = 0; seed < Seeds; seed++)
        {
            var rng = new Random(seed);
            var checkpoint = ShippedModels.CheckpointBytes();
            var texts = records.Select(r => r.Text).ToArray();
            var done = new List<string>();
            byte[]? flipped = null;
            for (var m = rng.Next(1, 4); m > 0; m--)
                done.Add(Mutate(rng, checkpoint, texts, ref flipped));
            var tokenizer = flipped ?? Tokenizer(maxLength, records.Select((r, i) => (r.Score, texts[i])));
            var checkpointPath = _temp.Write("m.bin", checkpoint);
            var tokenizerPath = _temp.Write("t.bin", tokenizer);
            var output = _temp.File("m.gguf");
            try
            {
                Llama2cConverter.Convert(checkpointPath, tokenizerPath, output);
            }
            catch (ModelFormatException e)
            {
                Assert.True(e.GetType() == typeof(ModelFormatException), $"seed {seed}: {e.GetType().Name}");
                Assert.False(File.Exists(output), $"seed {seed}: a refused conversion left {output}");
                refused++;
                continue;
            }
            try
            {
                using var engine = ReferenceEngine.Load(output);
                var vocabulary = LlamaTokenizer.FromGguf(engine.Weights.File);
                using var session = engine.CreateSession(8);
                session.Forward(vocabulary.Encode("Once upon a time", addBos: true)[..4]);
                converted++;
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {seed} ({string.Join("; ", done)}) converted into a file the loader refuses: {e.GetType().Name}: {e.Message}");
            }
            finally
            {
                File.Delete(output);
            }
        }
        // Both outcomes are well represented, or the loop would prove little.
        Assert.InRange(converted, Seeds / 5, Seeds);
        Assert.InRange(refused, Seeds / 5, Seeds);
    }

    /// <summary>One random mutation of the checkpoint (in place) or the token texts; returns what it did, for failure messages.</summary>
    private static string Mutate(Random rng, byte[] checkpoint, byte[][] texts, ref byte[]? flippedTokenizer)
    {
        int Token() => rng.Next(3, texts.Length);
        switch (rng.Next(8))
        {
            case 0:
            {
                // n_heads and n_kv_heads changed together with seq_len so that wk, wv and freq_cis keep their sizes
                // (kv_dim 32, seq_len × head_size 4096): head sizes 32 to 1, the last one odd.
                var heads = 1 << rng.Next(1, 7);
                checkpoint.I32(12, heads).I32(16, heads / 2).I32(24, 64 * heads);
                return $"{heads} heads";
            }
            case 1:
            {
                var field = rng.Next(7);
                var original = BitConverter.ToInt32(checkpoint, field * 4);
                int[] values = [0, 1, -1, 2, 3, original + 1, original - 1, original * 2, original / 2, -original, 4096, 4097, 1 << 20, int.MaxValue];
                var value = values[rng.Next(values.Length)];
                checkpoint.I32(field * 4, value);
                return $"header field {field} = {value}";
            }
            case 2:
            {
                var (a, b) = (Token(), Token());
                texts[a] = texts[b];
                return $"token {a} = token {b}";
            }
            case 3:
            {
                // What llama.cpp's sscanf("<0x%02hhX>") takes for a byte token, and near misses.
                const string alphabet = "0123456789ABCDEFabcdefXZ+- ";
                var text = "<0x" + new string(Enumerable.Range(0, rng.Next(0, 4)).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray()) + (rng.Next(2) == 0 ? ">" : "");
                var id = Token();
                texts[id] = Encoding.UTF8.GetBytes(text);
                return $"token {id} = '{text}'";
            }
            case 4:
            {
                var id = Token();
                var text = rng.Next(4) switch
                {
                    0 => "",
                    1 => $"[EMPTY_{Token()}]",
                    2 => new string(Enumerable.Range(0, rng.Next(1, 4)).Select(_ => " ab\u2581"[rng.Next(4)]).ToArray()),
                    _ => new string(Enumerable.Range(0, rng.Next(1, 3)).Select(_ => (char)rng.Next('a', 'e')).ToArray()),
                };
                texts[id] = Encoding.UTF8.GetBytes(text);
                return $"token {id} = '{text}'";
            }
            case 5:
            {
                var id = Token();
                texts[id] = Enumerable.Range(0, rng.Next(1, 4)).Select(_ => (byte)rng.Next(256)).ToArray();
                return $"token {id} = random bytes";
            }
            case 6:
            {
                // Flipped bytes of the written tokenizer: lengths, scores and texts alike.
                var bytes = flippedTokenizer ?? Tokenizer(BitConverter.ToInt32(ShippedModels.TokenizerBytes(), 0), texts.Select(t => (0f, t)));
                var at = rng.Next(bytes.Length);
                bytes[at] ^= (byte)(1 << rng.Next(8));
                flippedTokenizer = bytes;
                return $"tokenizer byte {at} flipped";
            }
            default:
            {
                // A finite weight changed: conversion and loading must not care.
                var at = 28 + 4 * rng.Next((checkpoint.Length - 28) / 4);
                BitConverter.TryWriteBytes(checkpoint.AsSpan(at), (float)(rng.NextDouble() * 2 - 1));
                return $"weight at {at} changed";
            }
        }
    }

    private static uint[] Bits(float[] values) => values.Select(BitConverter.SingleToUInt32Bits).ToArray();

    internal static byte[] Tokenizer(int maxTokenLength, IEnumerable<(float Score, byte[] Text)> tokens)
    {
        using var stream = new MemoryStream();
        using var w = new BinaryWriter(stream);
        w.Write(maxTokenLength);
        foreach (var (score, text) in tokens)
        {
            w.Write(score);
            w.Write(text.Length);
            w.Write(text);
        }
        w.Flush();
        return stream.ToArray();
    }
}
