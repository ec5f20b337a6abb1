using System.Runtime.InteropServices;
using System.Text;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Tests.Gguf;

/// <summary>
/// Every malformation must surface as exactly <see cref="GgufFormatException"/> naming the file, an offset inside it
/// and what was expected; never IndexOutOfRange, Overflow, OutOfMemory, ArgumentException or a silent success.
/// </summary>
public sealed class GgufCorruptionTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    // Field offsets in stories260K.gguf (checked by Layout_constants_match_the_shipped_file).
    private const int FileLength = 1185376;
    private const int TensorCountAt = 8, KvCountAt = 16;
    private const int TokensKeyAt = 24, TokensKeyBytesAt = 32, TokensTypeAt = 53, TokensElementTypeAt = 57, TokensCountAt = 61;
    private const int FirstTokenLengthAt = 69, FirstTokenBytesAt = 77;
    private const int ArchitectureValueBytesAt = 10745;     // "llama" of general.architecture
    private const int NameValueLengthAt = 10774;            // general.name's string length
    private const int EosKeyAt = 10877;                     // tokenizer.ggml.eos_token_id
    private const int BlockCountTypeAt = 11243;             // llama.block_count's value type
    private const int TokenEmbdAt = 11347, TokenEmbdNDimsAt = 11372, TokenEmbdDim0At = 11376, TokenEmbdTypeAt = 11392, TokenEmbdOffsetAt = 11396;
    private const int OutputNormAt = 11404, OutputNormOffsetAt = 11446;
    private const int OutputAt = 11454, OutputOffsetAt = 11499;
    private const int Blk0AttnKAt = 11566, Blk0AttnKOffsetAt = 11617;
    private const int Blk0FfnDownNDimsAt = 11892, Blk0FfnDownTypeAt = 11912;
    private const int Blk1AttnQAt = 12036, Blk1AttnOutputAt = 12213;
    private const int LastTensorAt = 14099, LastTensorOffsetAt = 14144;
    private const int HeaderEnd = 14152, DataStart = 14176;

    /// <summary>A corrupt image and, for hand-made corruptions, the offset the error must name.</summary>
    public sealed record Corruption(byte[] Bytes, long? Offset);

    private static byte[] Stories() => ShippedModels.GgufBytes();

    private static Corruption At(long offset, byte[] bytes) => new(bytes, offset);

    private static Corruption Anywhere(byte[] bytes) => new(bytes, null);

    // Small written files whose first entry sits at offset 24: key length (u64) at 24, key bytes at 32.
    // With a 1-character key the value type is at 33 and the value at 37.
    private static byte[] OneValue(string key, GgufValue value) => new GgufWriter().Add(key, value).ToBytes();

    /// <summary>'general.alignment' is written under a stand-in key (the writer refuses bad alignments), then renamed.</summary>
    private static byte[] Alignment(GgufValue value) =>
        new GgufWriter().Add("general.alignmenX", value).AddTensor("t", [3], [1f, 2f, 3f]).ToBytes().Ascii(32 + 16, "t");
    private const int AlignmentTypeAt = 32 + 17;

    /// <summary>One tensor "t" and no metadata: name length at 24, name at 32, n_dims at 33, dims from 37, then type and offset.</summary>
    private static byte[] OneTensor(int dims) => new GgufWriter().AddTensor("t", Enumerable.Repeat(1L, dims).ToArray(), [0f]).ToBytes();

    private static GgufValue Nest(int depth) =>
        depth == 0
            ? new(GgufValueType.Array, new[] { 1 }, GgufValueType.Int32)
            : new(GgufValueType.Array, new[] { Nest(depth - 1) }, GgufValueType.Array);

    private static readonly Dictionary<string, Func<Corruption>> Corruptions = new()
    {
        // File too short to hold a header.
        ["empty file"] = () => At(0, []),
        ["3-byte file"] = () => At(0, "GGU"u8.ToArray()),
        ["magic only"] = () => At(4, Stories().Take(4)),
        ["header cut in the tensor count"] = () => At(TensorCountAt, Stories().Take(12)),

        // Magic and version.
        ["wrong magic"] = () => At(0, Stories().Ascii(0, "GGUG")),
        ["byte-swapped magic"] = () => At(0, Stories().Ascii(0, "FUGG")),
        ["GGML magic"] = () => At(0, Stories().Ascii(0, "lmgg")),
        ["version 1"] = () => At(4, Stories().U32(4, 1)),
        ["version 4"] = () => At(4, Stories().U32(4, 4)),
        ["version 99"] = () => At(4, Stories().U32(4, 99)),
        ["version big-endian 3"] = () => At(4, Stories().U32(4, 0x03000000)),

        // Counts.
        ["tensor count 2^63"] = () => At(TensorCountAt, Stories().U64(TensorCountAt, 1UL << 63)),
        ["tensor count 2^64-1"] = () => At(TensorCountAt, Stories().U64(TensorCountAt, ulong.MaxValue)),
        ["tensor count one too many"] = () => Anywhere(Stories().U64(TensorCountAt, 49)),
        ["kv count 2^63"] = () => At(KvCountAt, Stories().U64(KvCountAt, 1UL << 63)),
        ["kv count just past what fits"] = () => At(KvCountAt, Stories().U64(KvCountAt, (FileLength - 24) / 12 + 1)),
        ["kv count one too many"] = () => Anywhere(Stories().U64(KvCountAt, 20)),

        // Strings.
        ["key length 2^63"] = () => At(TokensKeyAt, Stories().U64(TokensKeyAt, 1UL << 63)),
        ["key length one past EOF"] = () => At(TokensKeyAt, Stories().U64(TokensKeyAt, FileLength - TokensKeyBytesAt + 1)),
        ["invalid UTF-8 key"] = () => At(TokensKeyBytesAt, Stories().Set(TokensKeyBytesAt + 3, 0xFF)),
        ["overlong UTF-8 in a string element"] = () => At(FirstTokenBytesAt, Stories().Set(FirstTokenBytesAt, 0xC0).Set(FirstTokenBytesAt + 1, 0x80)),
        ["UTF-8 surrogate in a string element"] = () => At(FirstTokenBytesAt, Stories().Set(FirstTokenBytesAt, 0xED).Set(FirstTokenBytesAt + 1, 0xA0).Set(FirstTokenBytesAt + 2, 0x80)),
        ["invalid UTF-8 string value"] = () => At(ArchitectureValueBytesAt, Stories().Set(ArchitectureValueBytesAt + 4, 0x80)),
        ["string element length 2^63"] = () => At(FirstTokenLengthAt, Stories().U64(FirstTokenLengthAt, 1UL << 63)),
        ["string element length past EOF"] = () => At(FirstTokenLengthAt, Stories().U64(FirstTokenLengthAt, FileLength - FirstTokenBytesAt + 1)),
        ["string value length 2^64-1"] = () => At(NameValueLengthAt, Stories().U64(NameValueLengthAt, ulong.MaxValue)),

        // Value types and arrays.
        ["unknown value type 13"] = () => At(TokensTypeAt, Stories().U32(TokensTypeAt, 13)),
        ["unknown value type 2^32-1"] = () => At(BlockCountTypeAt, Stories().U32(BlockCountTypeAt, uint.MaxValue)),
        ["unknown array element type"] = () => At(TokensElementTypeAt, Stories().U32(TokensElementTypeAt, 99)),
        ["array length 2^63"] = () => At(TokensCountAt, Stories().U64(TokensCountAt, 1UL << 63)),
        ["array length 2^64-1"] = () => At(TokensCountAt, Stories().U64(TokensCountAt, ulong.MaxValue)),
        ["array length past what fits"] = () => At(TokensCountAt, Stories().U64(TokensCountAt, 200_000)),
        ["string array read as array of arrays"] = () => Anywhere(Stories().U32(TokensElementTypeAt, (uint)GgufValueType.Array)),
        ["inner array length huge"] = () => At(53, OneValue("n", Nest(1)).U64(53, 1UL << 62)),
        ["arrays nested too deep"] = () => Anywhere(OneValue("n", Nest(12))),
        ["bool byte 7"] = () => At(37, OneValue("b", GgufValue.Of(true)).Set(37, 7)),
        ["bool array element 2"] = () => At(50, OneValue("b", new(GgufValueType.Array, new[] { true, false, true }, GgufValueType.Bool)).Set(50, 2)),
        ["duplicate key"] = () => At(EosKeyAt, Stories().Ascii(Stories().IndexOf("tokenizer.ggml.eos_token_id") + 15, "b")),

        // general.alignment.
        ["alignment 0"] = () => At(AlignmentTypeAt, Alignment(GgufValue.Of(0u))),
        ["alignment 3"] = () => At(AlignmentTypeAt, Alignment(GgufValue.Of(3u))),
        ["alignment 2^21"] = () => At(AlignmentTypeAt, Alignment(GgufValue.Of(1u << 21))),
        ["alignment negative"] = () => At(AlignmentTypeAt, Alignment(GgufValue.Of(-32))),
        ["alignment a string"] = () => At(AlignmentTypeAt, Alignment(GgufValue.Of("32"))),
        ["alignment a float"] = () => At(AlignmentTypeAt, Alignment(GgufValue.Of(32f))),
        // Written with alignment 64 (general.alignment is the only entry: its value at 53), then declared 128:
        // tensor "b" at data offset 64 is no longer aligned; its offset field is at 115.
        ["alignment raised above the written one"] = () => At(115, new GgufWriter { Alignment = 64 }
            .AddTensor("a", [3], [1f, 2f, 3f]).AddTensor("b", [3], [1f, 2f, 3f]).ToBytes().U32(53, 128)),

        // Tensor table.
        ["tensor name length 2^63"] = () => At(TokenEmbdAt, Stories().U64(TokenEmbdAt, 1UL << 63)),
        ["invalid UTF-8 tensor name"] = () => At(TokenEmbdAt + 8, Stories().Set(TokenEmbdAt + 8, 0xFE)),
        ["duplicate tensor name"] = () => At(Blk1AttnQAt, Stories().Ascii(Blk1AttnQAt + 8 + 4, "0")),
        ["zero dimensions"] = () => At(TokenEmbdNDimsAt, Stories().U32(TokenEmbdNDimsAt, 0)),
        ["five dimensions"] = () => At(TokenEmbdNDimsAt, Stories().U32(TokenEmbdNDimsAt, 5)),
        ["n_dims 2^32-1"] = () => At(TokenEmbdNDimsAt, Stories().U32(TokenEmbdNDimsAt, uint.MaxValue)),
        ["dimension 0"] = () => At(TokenEmbdDim0At, Stories().U64(TokenEmbdDim0At, 0)),
        ["dimension 2^40"] = () => At(TokenEmbdDim0At, Stories().U64(TokenEmbdDim0At, 1UL << 40)),
        ["dimension 2^64-1"] = () => At(TokenEmbdDim0At, Stories().U64(TokenEmbdDim0At, ulong.MaxValue)),
        ["element count overflows 64 bits"] = () => At(53, OneTensor(4).U64(37, int.MaxValue).U64(45, int.MaxValue).U64(53, int.MaxValue).U64(61, int.MaxValue)),
        ["byte size overflows 64 bits"] = () => At(33, OneTensor(4).U64(37, 1UL << 30).U64(45, 1UL << 30).U64(53, 4)),
        ["unknown tensor type 99"] = () => At(TokenEmbdTypeAt, Stories().U32(TokenEmbdTypeAt, 99)),
        ["removed tensor type 4 (Q4_2)"] = () => At(TokenEmbdTypeAt, Stories().U32(TokenEmbdTypeAt, 4)),
        ["tensor type 2^32-1"] = () => At(TokenEmbdTypeAt, Stories().U32(TokenEmbdTypeAt, uint.MaxValue)),
        ["Q8_0 row not a multiple of the block"] = () => At(Blk0FfnDownNDimsAt, Stories().U32(Blk0FfnDownTypeAt, (uint)GgmlType.Q8_0)),
        ["offset not aligned (+1)"] = () => At(OutputNormOffsetAt, Stories().U64(OutputNormOffsetAt, 131072 + 1)),
        ["offset not aligned (+16)"] = () => At(OutputNormOffsetAt, Stories().U64(OutputNormOffsetAt, 131072 + 16)),
        ["tensor data past EOF"] = () => At(LastTensorAt, Stories().U64(LastTensorOffsetAt, 1170944 + 256)),
        ["tensor offset 2^64-32"] = () => At(TokenEmbdAt, Stories().U64(TokenEmbdOffsetAt, ulong.MaxValue - 31)),
        ["tensor offset 2^63"] = () => At(TokenEmbdAt, Stories().U64(TokenEmbdOffsetAt, 1UL << 63)),
        ["overlapping tensors (same offset)"] = () => At(OutputAt, Stories().U64(OutputOffsetAt, 0)),
        ["overlapping tensors (partial)"] = () => At(Blk0AttnKAt, Stories().U64(Blk0AttnKOffsetAt, 262400 + 32)),

        // Truncations.
        ["truncated in the padding before the data"] = () => At(HeaderEnd, Stories().Take(HeaderEnd + 8)),
        ["truncated at the data start"] = () => At(TokenEmbdAt, Stories().Take(DataStart)),
        ["truncated mid-tensor"] = () => At(Blk1AttnOutputAt, Stories().Take(500_000)),
        ["last byte missing"] = () => At(LastTensorAt, Stories().Take(FileLength - 1)),
    };

    public static TheoryData<string> CorruptionNames => [.. Corruptions.Keys];

    [Theory]
    [MemberData(nameof(CorruptionNames))]
    public void Corrupt_file_throws_GgufFormatException(string name)
    {
        var corruption = Corruptions[name]();
        var path = _temp.Write("corrupt.gguf", corruption.Bytes);
        var error = AssertRejected(path, corruption.Bytes.Length);
        if (corruption.Offset is { } offset) Assert.Equal(offset, error.Offset);
    }

    [Fact]
    public void Table_has_at_least_30_variants_and_the_small_files_are_valid_before_corruption()
    {
        Assert.True(Corruptions.Count >= 30);
        // The hand-made files only fail because of the patch: their unpatched versions open.
        foreach (var bytes in new[]
                 {
                     OneValue("b", GgufValue.Of(true)), OneValue("n", Nest(1)), OneValue("n", Nest(6)), OneTensor(4),
                     new GgufWriter().Add("general.alignment", 32u).AddTensor("t", [3], [1f, 2f, 3f]).ToBytes(),
                 })
        {
            using var file = GgufFile.Open(_temp.Write("valid.gguf", bytes));
        }
        Assert.Equal("general.alignmenX", Encoding.ASCII.GetString(new GgufWriter().Add("general.alignmenX", 1u).ToBytes(), 32, 17));
    }

    [Fact]
    public void Layout_constants_match_the_shipped_file()
    {
        using var file = GgufFile.Open(ShippedModels.GgufPath);
        Assert.Equal(FileLength, file.FileLength);
        Assert.Equal(DataStart, file.DataOffset);
        Assert.Equal(TokensTypeAt, file.Find("tokenizer.ggml.tokens")!.Offset);
        Assert.Equal(BlockCountTypeAt, file.Find("llama.block_count")!.Offset);
        Assert.Equal(TokenEmbdAt, file.GetTensor("token_embd.weight").HeaderOffset);
        Assert.Equal(OutputNormAt, file.GetTensor("output_norm.weight").HeaderOffset);
        Assert.Equal(OutputAt, file.GetTensor("output.weight").HeaderOffset);
        Assert.Equal(Blk0AttnKAt, file.GetTensor("blk.0.attn_k.weight").HeaderOffset);
        Assert.Equal(Blk1AttnQAt, file.GetTensor("blk.1.attn_q.weight").HeaderOffset);
        Assert.Equal(Blk1AttnOutputAt, file.GetTensor("blk.1.attn_output.weight").HeaderOffset);
        Assert.Equal(LastTensorAt, file.Tensors[^1].HeaderOffset);

        var raw = ShippedModels.GgufBytes();
        Assert.Equal("tokenizer.ggml.tokens", Encoding.ASCII.GetString(raw, TokensKeyBytesAt, 21));
        Assert.Equal(512UL, raw.ReadU64(TokensCountAt));
        Assert.Equal(5UL, raw.ReadU64(FirstTokenLengthAt));
        Assert.Equal("<unk>", Encoding.ASCII.GetString(raw, FirstTokenBytesAt, 5));
        Assert.Equal("llama", Encoding.ASCII.GetString(raw, ArchitectureValueBytesAt, 5));
        Assert.Equal(5UL, raw.ReadU64(NameValueLengthAt));
        Assert.Equal(EosKeyAt, raw.IndexOf("tokenizer.ggml.eos_token_id") - 8);
        Assert.Equal(2u, raw.ReadU32(TokenEmbdNDimsAt));
        Assert.Equal(64UL, raw.ReadU64(TokenEmbdDim0At));
        Assert.Equal(0u, raw.ReadU32(TokenEmbdTypeAt));
        Assert.Equal(131072UL, raw.ReadU64(OutputNormOffsetAt));
        Assert.Equal(131328UL, raw.ReadU64(OutputOffsetAt));
        Assert.Equal(278784UL, raw.ReadU64(Blk0AttnKOffsetAt));
        Assert.Equal(2u, raw.ReadU32(Blk0FfnDownNDimsAt));
        Assert.Equal(172UL, raw.ReadU64(Blk0FfnDownNDimsAt + 4));
        Assert.Equal(1170944UL, raw.ReadU64(LastTensorOffsetAt));
    }

    [Fact]
    public void Every_truncation_inside_the_header_is_rejected()
    {
        SweepTruncations(Stories(), Enumerable.Range(0, DataStart).Select(n => (long)n), (_, _) => { });
    }

    [Fact]
    public void Truncations_through_the_tensor_data_are_rejected_naming_the_first_tensor_cut()
    {
        using var valid = GgufFile.Open(ShippedModels.GgufPath);
        var lengths = new SortedSet<long>();
        for (long n = DataStart + 1; n < FileLength; n += 4093) lengths.Add(n);
        foreach (var t in valid.Tensors)
        {
            lengths.Add(t.FileOffset + 1);
            lengths.Add(t.FileOffset + t.ByteSize - 1);
        }
        lengths.Add(FileLength - 1);

        var tensors = valid.Tensors.ToArray();
        SweepTruncations(Stories(), lengths, (length, error) =>
        {
            var firstCut = tensors.First(t => t.FileOffset + t.ByteSize > length);
            Assert.Equal(firstCut.HeaderOffset, error.Offset);
        });
    }

    [Fact]
    public void Every_truncation_of_a_file_with_all_value_types_is_rejected()
    {
        var bytes = new GgufWriter()
            .Add("s", "h\u00e9llo").Add("u8", new GgufValue(GgufValueType.UInt8, (byte)1)).Add("b", true)
            .Add("i16", new GgufValue(GgufValueType.Int16, (short)-2)).Add("u64", GgufValue.Of(ulong.MaxValue))
            .Add("f64", new GgufValue(GgufValueType.Float64, 1.5)).Add("strings", ["a", "", "\u2581b"]).Add("nested", Nest(3))
            .Add("bools", new GgufValue(GgufValueType.Array, new[] { true, false }, GgufValueType.Bool))
            .AddTensor("q", [32], GgmlType.Q8_0, new byte[34]).AddTensor("f", [3, 2], new float[6])
            .ToBytes();
        // Everything up to the end of the last tensor's data is needed; the final padding is not.
        long needed;
        using (var valid = GgufFile.Open(_temp.Write("small.gguf", bytes)))
            needed = valid.Tensors.Max(t => t.FileOffset + t.ByteSize);
        SweepTruncations(bytes, Enumerable.Range(0, (int)needed).Select(n => (long)n), (_, _) => { });
    }

    /// <summary>
    /// Opens <paramref name="image"/> cut to each of <paramref name="lengths"/>, expecting rejection. Work is split over a
    /// few files (each cut shorter and shorter in place, which is much cheaper than rewriting it) checked in parallel.
    /// </summary>
    private void SweepTruncations(byte[] image, IEnumerable<long> lengths, Action<long, GgufFormatException> check)
    {
        var all = lengths.Order().ToArray();
        var workers = Math.Clamp(Environment.ProcessorCount, 1, 4);
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            // Interleaved shares keep the workers' costs (which grow with the length) balanced.
            var mine = all.Where((_, i) => i % workers == w).Reverse().ToArray();
            if (mine.Length == 0) return;
            var path = _temp.Write($"truncated-{w}.gguf", image.Take(mine[0]));
            foreach (var length in mine)
            {
                using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write))
                    RandomAccess.SetLength(handle, length);
                check(length, AssertRejected(path, length));
            }
        });
    }

    /// <summary>
    /// A well-formed GGUF whose model the loader must refuse: stories260K.gguf with metadata replaced (a null value
    /// removes the key; keys it lacks are appended), and the key whose entry the error must point at.
    /// </summary>
    public sealed record ModelCorruption(Dictionary<string, GgufValue?> Metadata, string Key, string Says);

    private static readonly (string[] Tokens, float[] Scores, int[] Types) Stories260KVocabulary = ReadVocabulary();
    private static string[] StoriesTokens => Stories260KVocabulary.Tokens;
    private static float[] StoriesScores => Stories260KVocabulary.Scores;
    private static int[] StoriesTypes => Stories260KVocabulary.Types;

    private static (string[], float[], int[]) ReadVocabulary()
    {
        using var file = GgufFile.Open(ShippedModels.GgufPath);
        return (file.GetArray<string>("tokenizer.ggml.tokens"), file.GetArray<float>("tokenizer.ggml.scores"), file.GetArray<int>("tokenizer.ggml.token_type"));
    }

    private static ModelCorruption Meta(string key, GgufValue value, string says) => new(new() { [key] = value }, key, says);

    private static ModelCorruption Tokens(Func<string[], string[]> edit, Func<int[], int[]>? types, string says)
    {
        var tokens = edit((string[])StoriesTokens.Clone());
        var scores = tokens.Length <= StoriesScores.Length ? StoriesScores[..tokens.Length] : [.. StoriesScores, .. new float[tokens.Length - StoriesScores.Length]];
        var typeArray = types?.Invoke((int[])StoriesTypes.Clone())
                        ?? (tokens.Length <= StoriesTypes.Length ? StoriesTypes[..tokens.Length] : [.. StoriesTypes, .. Enumerable.Repeat(1, tokens.Length - StoriesTypes.Length)]);
        return new(new()
        {
            ["tokenizer.ggml.tokens"] = GgufValue.Of(tokens), ["tokenizer.ggml.scores"] = GgufValue.Of(scores), ["tokenizer.ggml.token_type"] = GgufValue.Of(typeArray),
        }, "tokenizer.ggml.tokens", says);
    }

    private static string[] With(string[] tokens, int id, string text)
    {
        tokens[id] = text;
        return tokens;
    }

    private static int[] AsByteToken(int[] types, int id)
    {
        types[id] = 6;
        return types;
    }

    private const string Eps = "llama.attention.layer_norm_rms_epsilon", FreqBase = "llama.rope.freq_base", BlockCount = "llama.block_count";

    private static readonly Dictionary<string, Func<ModelCorruption>> ModelCorruptions = new()
    {
        // Silently accepted before: a NaN epsilon or base makes every logit NaN, a short block count drops layers.
        ["norm epsilon NaN"] = () => Meta(Eps, GgufValue.Of(float.NaN), "an epsilon between 0 and 1 (exclusive), found NaN"),
        ["norm epsilon +Inf"] = () => Meta(Eps, GgufValue.Of(float.PositiveInfinity), "found Infinity"),
        ["norm epsilon -Inf"] = () => Meta(Eps, GgufValue.Of(float.NegativeInfinity), "found -Infinity"),
        ["norm epsilon negative"] = () => Meta(Eps, GgufValue.Of(-1e-5f), "found -1E-05"),
        ["norm epsilon 0"] = () => Meta(Eps, GgufValue.Of(0f), "found 0"),
        ["rope.freq_base NaN"] = () => Meta(FreqBase, GgufValue.Of(float.NaN), "a positive finite number, found NaN"),
        ["rope.freq_base 0"] = () => Meta(FreqBase, GgufValue.Of(0f), "a positive finite number, found 0"),
        ["rope.freq_base negative"] = () => Meta(FreqBase, GgufValue.Of(-10000f), "found -10000"),
        ["rope.freq_base +Inf"] = () => Meta(FreqBase, GgufValue.Of(float.PositiveInfinity), "found Infinity"),
        ["block_count 4 with 5 layers present"] = () => Meta(BlockCount, GgufValue.Of(4u), "found 4 while the file has tensors of layer 4"),
        ["block_count 1 with 5 layers present"] = () => Meta(BlockCount, GgufValue.Of(1u), "found 1 while the file has tensors of layer 1"),
        ["block_count past the limit"] = () => Meta(BlockCount, GgufValue.Of(5000u), "between 1 and 4096, found 5000"),
        ["context_length past the limit"] = () => Meta("llama.context_length", GgufValue.Of((1u << 24) + 1), "between 1 and 16777216, found 16777217"),
        ["head_count_kv 0"] = () => Meta("llama.attention.head_count_kv", GgufValue.Of(0u), "between 1 and"),
        // The vocabulary against the embedding (a token past the rows failed mid-generation) and the tokenizer's own rules.
        ["300 tokens over 512 embedding rows"] = () => Tokens(t => t[..300], null, "one token per row of 'token_embd.weight' (512 rows), found 300 tokens"),
        ["600 tokens over 512 embedding rows"] = () => Tokens(t => [.. t, .. Enumerable.Range(0, 88).Select(i => $"extra{i}")], null, "(512 rows), found 600 tokens"),
        ["duplicate token text"] = () => Tokens(t => With(t, 400, t[401]), null, $"the duplicate '{StoriesTokens[401]}' at ids 400 and 401"),
        ["two empty tokens are distinct"] = () => Tokens(t => With(With(t, 300, ""), 301, "[EMPTY_300]"), null, "the duplicate '[EMPTY_300]' at ids 300 and 301"),
        ["byte token '<0x1'"] = () => Tokens(t => With(t, 300, "<0x1"), ty => AsByteToken(ty, 300), "byte token 300 (type 6) spelt <0xNN> with two hex digits, found '<0x1'"),
        ["byte token '<0x123>'"] = () => Tokens(t => With(t, 300, "<0x123>"), ty => AsByteToken(ty, 300), "found '<0x123>'"),
        ["byte token '<0x-F>'"] = () => Tokens(t => With(t, 300, "<0x-F>"), ty => AsByteToken(ty, 300), "found '<0x-F>'"),
    };

    public static TheoryData<string> ModelCorruptionNames => [.. ModelCorruptions.Keys];

    [Theory]
    [MemberData(nameof(ModelCorruptionNames))]
    public void A_model_the_loader_cannot_run_is_refused_at_load_naming_the_key(string name)
    {
        var corruption = ModelCorruptions[name]();
        var path = _temp.File("model.gguf");
        using (var source = GgufFile.Open(ShippedModels.GgufPath))
        {
            var writer = new GgufWriter();
            foreach (var (key, value) in source.Metadata)
                if (!corruption.Metadata.TryGetValue(key, out var replacement)) writer.Add(key, value);
                else if (replacement is not null) writer.Add(key, replacement);
            foreach (var (key, value) in corruption.Metadata)
                if (value is not null && source.Find(key) is null) writer.Add(key, value);
            foreach (var t in source.Tensors) writer.AddTensor(t.Name, t.Dimensions, t.Type, source.GetBytes(t));
            writer.Write(path);
        }
        long expectedOffset;
        using (var file = GgufFile.Open(path)) expectedOffset = file.Find(corruption.Key)!.Offset;

        var e = Record.Exception(() =>
        {
            using var weights = LlamaWeights.Load(path);
            LlamaTokenizer.FromGguf(weights.File);
        });
        Assert.NotNull(e);
        Assert.True(e.GetType() == typeof(GgufFormatException), $"{e.GetType().Name}: {e.Message}");
        var error = (GgufFormatException)e;
        Assert.Equal((path, expectedOffset), (error.FilePath, error.Offset));
        Assert.Contains(corruption.Says, error.Message);
        Assert.StartsWith(path + ": at byte offset " + expectedOffset + ": expected ", error.Message);
    }

    /// <summary>stories260K.gguf with some of one tensor's F32 values replaced.</summary>
    private string WithValues(string tensor, params (int Index, float Value)[] values)
    {
        var path = _temp.File("non-finite.gguf");
        using var source = GgufFile.Open(ShippedModels.GgufPath);
        var writer = new GgufWriter();
        foreach (var (key, value) in source.Metadata) writer.Add(key, value);
        foreach (var t in source.Tensors)
        {
            var data = source.GetFloat32(t.Name).ToArray();
            if (t.Name == tensor)
                foreach (var (index, value) in values) data[index] = value;
            writer.AddTensor(t.Name, t.Dimensions, data);
        }
        writer.Write(path);
        return path;
    }

    [Fact]
    public void Si_inspect_scans_values_only_when_asked()
    {
        var path = WithValues("blk.1.attn_q.weight", (5, float.NaN));
        var plain = Cli.Si.Run("inspect", path);
        Assert.Equal(0, plain.Code);
        Assert.DoesNotContain("NaN", plain.Out);
        var checkedValues = Cli.Si.Run("inspect", path, "--check-values");
        Assert.Equal(0, checkedValues.Code);
        Assert.Contains("warning: tensor 'blk.1.attn_q.weight' (F32) has 1 NaN and 0 infinite values; the first at element 5", checkedValues.Out);
        Assert.Contains("every tensor value is finite", Cli.Si.Run("inspect", ShippedModels.GgufPath, "--check-values").Out);
    }

    [Fact]
    public void Non_finite_weights_are_listed_per_tensor_and_a_forward_pass_through_them_is_a_typed_error()
    {
        var path = WithValues("blk.2.ffn_up.weight", (17, float.NaN), (20, float.PositiveInfinity), (4000, float.NegativeInfinity), (9000, float.NaN));
        using (var file = GgufFile.Open(path))
        {
            var found = Assert.Single(file.FindNonFiniteValues());
            Assert.Equal(new NonFiniteTensor("blk.2.ffn_up.weight", GgmlType.F32, 2, 2, 17), found);
            Assert.Contains("tensor 'blk.2.ffn_up.weight' (F32) has 2 NaN and 2 infinite values; the first at element 17", found.ToString());
        }
        using (var clean = GgufFile.Open(ShippedModels.GgufPath)) Assert.Empty(clean.FindNonFiniteValues());

        using var engine = ReferenceEngine.Load(path);
        var session = engine.CreateSession(16);
        var e = Assert.Throws<NonFiniteLogitsException>(() => session.Forward([1, 403, 407]));
        Assert.Equal(path, e.FilePath);
        Assert.Equal(512, e.Count); // a NaN in a hidden state reaches every logit
        Assert.Contains("si inspect --check-values", e.Message);
    }

    [Theory]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    [InlineData(GgmlType.Q8_0)]
    public void Non_finite_values_are_found_in_every_type_the_loader_reads(GgmlType type)
    {
        // Values that overflow the type (F16 above 65504, Q8_0 through its F16 scale) and a NaN, encoded by the
        // writer's own conversions, then counted independently of the scan: by dequantizing.
        var values = Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i)).ToArray();
        values[3] = float.NaN;
        // Q8_0: 1e7 / 127 is past F16's largest value, so the block's scale is stored infinite (as ggml stores it).
        values[40] = type switch { GgmlType.BF16 => float.PositiveInfinity, GgmlType.Q8_0 => 1e7f, _ => 1e6f };
        var bytes = type switch
        {
            GgmlType.F16 => MemoryMarshal.AsBytes(values.Select(v => (Half)v).ToArray().AsSpan()).ToArray(),
            GgmlType.BF16 => MemoryMarshal.AsBytes(values.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray().AsSpan()).ToArray(),
            _ => SpecializedInfer.Quantization.ReferenceQuantizer.Q8_0(values),
        };
        var path = _temp.Write("typed.gguf", new GgufWriter().AddTensor("t", [64], type, bytes).AddTensor("clean", [2], [1f, 2f]).ToBytes());
        using var file = GgufFile.Open(path);
        var dequantized = file.ReadAsFloat32("t");
        var expected = new NonFiniteTensor("t", type, dequantized.Count(float.IsNaN), dequantized.Count(float.IsInfinity),
            Array.FindIndex(dequantized, v => !float.IsFinite(v)));
        Assert.True(expected.NaNs + expected.Infinities >= 2);
        Assert.Equal(expected, Assert.Single(file.FindNonFiniteValues()));
    }

    private static GgufFormatException AssertRejected(string path, long length)
    {
        Exception? e;
        GgufFile? opened = null;
        try
        {
            opened = GgufFile.Open(path);
            e = null;
        }
        catch (Exception ex)
        {
            e = ex;
        }
        finally
        {
            opened?.Dispose();
        }
        Assert.True(e is not null, $"{length}-byte file opened without error");
        Assert.True(e.GetType() == typeof(GgufFormatException), $"{length}-byte file: {e.GetType().Name}: {e.Message}");
        var error = (GgufFormatException)e;
        Assert.Equal(path, error.FilePath);
        Assert.InRange(error.Offset, 0, length);
        Assert.False(string.IsNullOrWhiteSpace(error.Expected));
        Assert.StartsWith(path + ": at byte offset " + error.Offset + ": expected ", error.Message);
        return error;
    }
}
