using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tests.Gguf;

public sealed class GgufRoundTripTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static GgufValue Arr(GgufValueType elementType, Array values) => new(GgufValueType.Array, values, elementType);

    /// <summary>Every value type, arrays of every element type, nested and empty arrays, empty strings, unicode keys.</summary>
    private static readonly (string Key, GgufValue Value)[] AllValues =
    [
        ("u8", new(GgufValueType.UInt8, (byte)200)),
        ("i8", new(GgufValueType.Int8, (sbyte)-100)),
        ("u16", new(GgufValueType.UInt16, (ushort)60000)),
        ("i16", new(GgufValueType.Int16, (short)-30000)),
        ("u32", new(GgufValueType.UInt32, 4_000_000_000u)),
        ("i32", new(GgufValueType.Int32, -2_000_000_000)),
        ("f32", new(GgufValueType.Float32, 3.14159f)),
        ("f32.nan", new(GgufValueType.Float32, float.NaN)),
        ("bool.true", new(GgufValueType.Bool, true)),
        ("bool.false", new(GgufValueType.Bool, false)),
        ("string", new(GgufValueType.String, "h\u00e9llo \u2713 \U0001F680 \u2581x")),
        ("string.empty", new(GgufValueType.String, "")),
        ("u64", new(GgufValueType.UInt64, ulong.MaxValue)),
        ("i64", new(GgufValueType.Int64, long.MinValue)),
        ("f64", new(GgufValueType.Float64, Math.PI)),
        ("arr.u8", Arr(GgufValueType.UInt8, new byte[] { 0, 1, 255 })),
        ("arr.i8", Arr(GgufValueType.Int8, new sbyte[] { -128, 0, 127 })),
        ("arr.u16", Arr(GgufValueType.UInt16, new ushort[] { 0, 65535 })),
        ("arr.i16", Arr(GgufValueType.Int16, new short[] { short.MinValue, -1, short.MaxValue })),
        ("arr.u32", Arr(GgufValueType.UInt32, new uint[] { 0, uint.MaxValue, 7 })),
        ("arr.i32", Arr(GgufValueType.Int32, new[] { int.MinValue, 0, int.MaxValue })),
        ("arr.f32", Arr(GgufValueType.Float32, new[] { 1.5f, float.NegativeInfinity, float.Epsilon })),
        ("arr.bool", Arr(GgufValueType.Bool, new[] { true, false, true })),
        ("arr.string", Arr(GgufValueType.String, new[] { "a", "", "\u043a\u043b\u044e\u0447", "\U0001F511" })),
        ("arr.u64", Arr(GgufValueType.UInt64, new[] { 0UL, ulong.MaxValue })),
        ("arr.i64", Arr(GgufValueType.Int64, new[] { long.MinValue, long.MaxValue })),
        ("arr.f64", Arr(GgufValueType.Float64, new[] { -0.5, double.MaxValue, double.Epsilon })),
        ("arr.nested", Arr(GgufValueType.Array, new[]
        {
            Arr(GgufValueType.Int32, new[] { 1, 2, 3 }),
            Arr(GgufValueType.String, new[] { "x", "" }),
            Arr(GgufValueType.Float64, Array.Empty<double>()),
            Arr(GgufValueType.Array, new[] { Arr(GgufValueType.Bool, new[] { true }), Arr(GgufValueType.Array, Array.Empty<GgufValue>()) }),
        })),
        ("arr.empty.u8", Arr(GgufValueType.UInt8, Array.Empty<byte>())),
        ("arr.empty.string", Arr(GgufValueType.String, Array.Empty<string>())),
        ("arr.empty.nested", Arr(GgufValueType.Array, Array.Empty<GgufValue>())),
        ("\u043a\u043b\u044e\u0447.\u540d\u524d.\U0001F511", new(GgufValueType.String, "unicode key")),
        ("", new(GgufValueType.UInt8, (byte)1)), // the empty key is legal, if odd
    ];

    [Fact]
    public void Writing_over_a_model_in_use_replaces_it_by_rename_and_leaves_the_running_mapping_intact()
    {
        // A model is memory-mapped while it runs; rewriting it in place would truncate the mapping under the reader
        // (SIGBUS on Linux, an AccessViolationException nothing can catch). The writer writes aside and renames.
        var path = _temp.Write("model.gguf", ShippedModels.GgufBytes());
        using var running = GgufFile.Open(path);
        var before = running.GetFloat32("output.weight").ToArray();

        new GgufWriter().AddTensor("t", [3], [1f, 2f, 3f]).Write(path);

        Assert.Equal(before, running.GetFloat32("output.weight").ToArray());
        using (var replaced = GgufFile.Open(path)) Assert.Equal("t", Assert.Single(replaced.Tensors).Name);
        Assert.Equal(["model.gguf"], Directory.GetFiles(_temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Every_value_type_round_trips_in_order()
    {
        Assert.Equal(13, AllValues.Select(v => v.Value.Type).Distinct().Count());
        Assert.Equal(13, AllValues.Where(v => v.Value.Type == GgufValueType.Array).Select(v => v.Value.ElementType).Distinct().Count());

        var writer = new GgufWriter();
        foreach (var (key, value) in AllValues) writer.Add(key, value);
        var path = _temp.File("values.gguf");
        writer.Write(path);

        using var file = GgufFile.Open(path);
        Assert.Equal(3u, file.Version);
        Assert.Empty(file.Tensors);
        Assert.Equal(AllValues.Select(v => v.Key), file.Metadata.Select(kv => kv.Key));
        for (var i = 0; i < AllValues.Length; i++)
        {
            AssertSameValue(AllValues[i].Value, file.Metadata[i].Value);
            Assert.Same(file.Metadata[i].Value, file.Find(AllValues[i].Key));
        }
        // Offsets point at each entry's type field: strictly increasing, inside the header.
        var offsets = file.Metadata.Select(kv => kv.Value.Offset).ToArray();
        Assert.Equal(offsets.Order(), offsets);
        Assert.All(offsets, o => Assert.InRange(o, 24, file.DataOffset));
        Assert.Equal((uint)GgufValueType.UInt8, File.ReadAllBytes(path).ReadU32(file.Find("u8")!.Offset));

        // Typed accessors.
        Assert.Equal(4_000_000_000, file.GetInteger("u32"));
        Assert.Equal(-30000, file.GetInteger("i16"));
        Assert.Equal(3.14159f, file.GetFloat("f32"));
        Assert.Equal((float)Math.PI, file.GetFloat("f64"));
        Assert.Equal("", file.GetString("string.empty"));
        Assert.Equal(new[] { "a", "", "\u043a\u043b\u044e\u0447", "\U0001F511" }, file.GetArray<string>("arr.string"));
        Assert.Null(file.Find("missing"));
        Assert.Null(file.GetIntegerOrNull("missing"));
        Assert.Throws<GgufFormatException>(() => file.GetInteger("u64")); // ulong.MaxValue does not fit a long
        Assert.Throws<GgufFormatException>(() => file.GetInteger("u8", max: 100));
        Assert.Throws<GgufFormatException>(() => file.GetString("u8"));
        Assert.Throws<GgufFormatException>(() => file.GetArray<int>("arr.u32"));
        Assert.Throws<GgufFormatException>(() => file.GetString("missing"));
    }

    [Fact]
    public void Empty_file_with_no_metadata_or_tensors_round_trips()
    {
        var path = _temp.File("empty.gguf");
        new GgufWriter().Write(path);
        Assert.Equal(32, new FileInfo(path).Length); // 24-byte header padded to the alignment
        using var file = GgufFile.Open(path);
        Assert.Empty(file.Metadata);
        Assert.Empty(file.Tensors);
        Assert.Equal(32, file.DataOffset);
    }

    [Fact]
    public void Default_alignment_is_32()
    {
        var path = _temp.File("align32.gguf");
        OddSizedTensors(new GgufWriter()).Write(path);
        using var file = GgufFile.Open(path);
        Assert.Equal(32, file.Alignment);
        Assert.Null(file.Find("general.alignment"));
        AssertAligned(file, 32);
        AssertOddSizedTensors(file);
    }

    [Fact]
    public void Writer_alignment_64_is_declared_and_honoured()
    {
        var path = _temp.File("align64.gguf");
        OddSizedTensors(new GgufWriter { Alignment = 64 }).Write(path);
        using var file = GgufFile.Open(path);
        Assert.Equal(64, file.Alignment);
        Assert.Equal(GgufValueType.UInt32, file.Find("general.alignment")!.Type);
        Assert.Equal(64, file.GetInteger("general.alignment"));
        AssertAligned(file, 64);
        AssertOddSizedTensors(file);
    }

    [Fact]
    public void Declared_general_alignment_64_is_honoured()
    {
        var path = _temp.File("declared64.gguf");
        OddSizedTensors(new GgufWriter().Add("general.alignment", 64u)).Write(path);
        using var file = GgufFile.Open(path);
        Assert.Equal(64, file.Alignment);
        Assert.Equal("general.alignment", file.Metadata[0].Key);
        Assert.Single(file.Metadata, kv => kv.Key == "general.alignment");
        AssertAligned(file, 64);
        AssertOddSizedTensors(file);
    }

    [Fact]
    public void Writer_refuses_alignments_it_cannot_honour()
    {
        var stream = new MemoryStream();
        Assert.Throws<InvalidOperationException>(() => new GgufWriter { Alignment = 3 }.Write(stream));
        Assert.Throws<InvalidOperationException>(() => new GgufWriter().Add("general.alignment", 0u).Write(stream));
        Assert.Throws<InvalidOperationException>(() => new GgufWriter().Add("general.alignment", "64").Write(stream));
        Assert.Throws<InvalidOperationException>(() => new GgufWriter { Alignment = 128 }.Add("general.alignment", 64u).Write(stream));
    }

    [Fact]
    public void Writing_into_a_stream_that_does_not_start_at_zero_aligns_relative_to_the_file_start()
    {
        using var stream = new MemoryStream();
        stream.Write(new byte[5]);
        OddSizedTensors(new GgufWriter()).Write(stream);
        var path = _temp.Write("offset.gguf", stream.ToArray()[5..]);
        using var file = GgufFile.Open(path);
        AssertOddSizedTensors(file);
    }

    [Fact]
    public void F32_tensors_are_zero_copy_and_bit_exact()
    {
        float[] values = [1f, -0f, float.NaN, float.PositiveInfinity, float.Epsilon, -123.456f];
        var path = _temp.File("f32.gguf");
        new GgufWriter().AddTensor("t", [3, 2], values).Write(path);
        using var file = GgufFile.Open(path);
        var t = file.GetTensor("t");
        Assert.Equal(GgmlType.F32, t.Type);
        Assert.Equal(new long[] { 3, 2 }, t.Dimensions);
        Assert.Equal(6, t.ElementCount);
        Assert.Equal(24, t.ByteSize);
        Assert.Equal("[3, 2]", t.Shape);
        Assert.Equal(Bits(values), Bits(file.GetFloat32("t").ToArray()));
        Assert.Equal(Bits(values), Bits(file.ReadAsFloat32("t")));
    }

    [Fact]
    public void F16_tensors_dequantize_exactly()
    {
        // 1, -2, 65504 (max), 2^-24 (smallest subnormal), -2^-14 (smallest normal), +inf, 0x3555, +0, -0.
        ushort[] halves = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8400, 0x7C00, 0x3555, 0x0000, 0x8000];
        float[] expected = [1f, -2f, 65504f, MathF.Pow(2, -24), -MathF.Pow(2, -14), float.PositiveInfinity, 0.333251953125f, 0f, -0f];
        Assert.Equal(Bits(expected), Bits(halves.Select(DecodeHalf).ToArray())); // the test's own decoder agrees
        var path = _temp.File("f16.gguf");
        new GgufWriter().AddTensor("h", [9], GgmlType.F16, MemoryMarshal.AsBytes(halves.AsSpan())).Write(path);
        using var file = GgufFile.Open(path);
        Assert.Equal(18, file.GetTensor("h").ByteSize);
        Assert.Equal(Bits(expected), Bits(file.ReadAsFloat32("h")));
        Assert.Throws<GgufFormatException>(() => file.GetFloat32("h")); // no zero-copy view of a non-F32 tensor
    }

    [Fact]
    public void BF16_tensors_dequantize_exactly()
    {
        ushort[] raw = [0x3F80, 0xC049, 0x4120, 0x0000, 0x8000, 0x7F80, 0x0001];
        float[] expected = [1f, -3.140625f, 10f, 0f, -0f, float.PositiveInfinity, BitConverter.Int32BitsToSingle(0x00010000)];
        var path = _temp.File("bf16.gguf");
        new GgufWriter().AddTensor("b", [7], GgmlType.BF16, MemoryMarshal.AsBytes(raw.AsSpan())).Write(path);
        using var file = GgufFile.Open(path);
        Assert.Equal(Bits(expected), Bits(file.ReadAsFloat32("b")));
    }

    [Fact]
    public void Q8_0_tensors_dequantize_as_scale_times_quant()
    {
        // Two blocks of 34 bytes: fp16 scale, then 32 signed bytes.
        var data = new byte[68];
        BinaryPrimitives.WriteUInt16LittleEndian(data, 0x3800); // 0.5
        for (var j = 0; j < 32; j++) data[2 + j] = (byte)(sbyte)(j * 8 - 128);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(34), 0x2E66); // 0.0999755859375
        for (var j = 0; j < 32; j++) data[36 + j] = (byte)(sbyte)(127 - j * 3);

        var expected = new float[64];
        for (var j = 0; j < 32; j++) expected[j] = 0.5f * (j * 8 - 128);
        for (var j = 0; j < 32; j++) expected[32 + j] = 0.0999755859375f * (127 - j * 3);

        var path = _temp.File("q8.gguf");
        new GgufWriter().AddTensor("q", [32, 2], GgmlType.Q8_0, data).Write(path);
        using var file = GgufFile.Open(path);
        var t = file.GetTensor("q");
        Assert.Equal(68, t.ByteSize);
        Assert.True(file.GetBytes(t).SequenceEqual(data));
        Assert.Equal(Bits(expected), Bits(file.ReadAsFloat32("q")));
    }

    [Fact]
    public void Q8_0_quantizer_matches_the_reference_rounding()
    {
        var values = new float[64];
        for (var i = 0; i < 64; i++) values[i] = MathF.Sin(i) * (i < 32 ? 3 : 0.01f);
        values[40] = 0.5f * values[40];
        var bytes = SpecializedInfer.Quantization.ReferenceQuantizer.Q8_0(values);
        Assert.Equal(68, bytes.Length);
        for (var b = 0; b < 2; b++)
        {
            var block = values.AsSpan(b * 32, 32);
            var amax = 0f;
            foreach (var v in block) amax = Math.Max(amax, Math.Abs(v));
            // ggml's quantize_row_q8_0_ref: d = amax / 127, id = 1 / d, q = roundf(x * id) (halves away from zero).
            var d = amax / 127;
            var id = 1 / d;
            Assert.Equal(BitConverter.HalfToUInt16Bits((Half)d), BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(b * 34)));
            for (var j = 0; j < 32; j++)
                Assert.Equal((sbyte)MathF.Round(block[j] * id, MidpointRounding.AwayFromZero), (sbyte)bytes[b * 34 + 2 + j]);
        }
        Assert.Equal(new byte[34], SpecializedInfer.Quantization.ReferenceQuantizer.Q8_0(new float[32])); // all zeros: scale 0, no NaN
        Assert.Throws<ArgumentException>(() => SpecializedInfer.Quantization.ReferenceQuantizer.Q8_0(new float[31]));
    }

    [Fact]
    public void Types_without_a_dequantizer_are_refused_by_ReadAsFloat32()
    {
        // Q8_1 is an activation type (ggml's blocks for Q4_1/Q5_1 products): no weight file holds it, no dequantizer.
        var path = _temp.File("q8_1.gguf");
        new GgufWriter().AddTensor("q8_1", [32], GgmlType.Q8_1, new byte[36]).Write(path);
        using var file = GgufFile.Open(path);
        Assert.Equal(GgmlType.Q8_1, file.GetTensor("q8_1").Type);
        Assert.Throws<GgufFormatException>(() => file.ReadAsFloat32("q8_1"));
        Assert.Throws<GgufFormatException>(() => file.GetTensor("missing"));
        Assert.False(file.HasTensor("missing"));
    }

    [Fact]
    public void Version_2_files_are_accepted()
    {
        var bytes = OddSizedTensors(new GgufWriter().Add("general.name", "v2").Add("arr", new[] { 1, 2 })).ToBytes();
        Assert.Equal(3u, bytes.ReadU32(4));
        var path = _temp.Write("v2.gguf", bytes.U32(4, 2));
        using var file = GgufFile.Open(path);
        Assert.Equal(2u, file.Version);
        Assert.Equal("v2", file.GetString("general.name"));
        Assert.Equal(new[] { 1, 2 }, file.GetArray<int>("arr"));
        AssertOddSizedTensors(file);
    }

    private static readonly float[] Odd1 = [1, 2, 3];
    private static readonly float[] Odd2 = [4, 5, 6, 7, 8];

    private static GgufWriter OddSizedTensors(GgufWriter writer) =>
        writer.AddTensor("odd1", [3], Odd1).AddTensor("odd2", [5, 1], Odd2).AddTensor("one", [1], [9f]);

    private static void AssertOddSizedTensors(GgufFile file)
    {
        Assert.Equal(["odd1", "odd2", "one"], file.Tensors.Select(t => t.Name));
        Assert.Equal(Odd1, file.GetFloat32("odd1").ToArray());
        Assert.Equal(Odd2, file.ReadAsFloat32("odd2"));
        Assert.Equal(9f, file.GetFloat32("one")[0]);
        Assert.Equal(new long[] { 5, 1 }, file.GetTensor("odd2").Dimensions);
    }

    private static void AssertAligned(GgufFile file, int alignment)
    {
        Assert.Equal(0, file.DataOffset % alignment);
        var raw = File.ReadAllBytes(file.FilePath);
        foreach (var t in file.Tensors)
        {
            Assert.Equal(0, t.DataOffset % alignment);
            Assert.Equal(file.DataOffset + t.DataOffset, t.FileOffset);
            Assert.True(raw.AsSpan((int)t.FileOffset, (int)t.ByteSize).SequenceEqual(file.GetBytes(t)));
        }
        // Padding is zeros and the file ends on the alignment.
        Assert.Equal(0, raw.Length % alignment);
    }

    private static void AssertSameValue(GgufValue expected, GgufValue actual)
    {
        Assert.Equal(expected.Type, actual.Type);
        if (expected.Type == GgufValueType.Array) Assert.Equal(expected.ElementType, actual.ElementType);
        Assert.Equal(expected.Value.GetType(), actual.Value.GetType());
        if (expected.Value is Array e)
        {
            var a = (Array)actual.Value;
            Assert.Equal(e.Length, a.Length);
            for (var i = 0; i < e.Length; i++)
            {
                if (e.GetValue(i) is GgufValue nested) AssertSameValue(nested, (GgufValue)a.GetValue(i)!);
                else Assert.Equal(e.GetValue(i), a.GetValue(i));
            }
        }
        else
        {
            Assert.Equal(expected.Value, actual.Value);
        }
    }

    private static uint[] Bits(float[] values) => values.Select(BitConverter.SingleToUInt32Bits).ToArray();

    /// <summary>IEEE half to float by hand, independent of <see cref="Half"/>.</summary>
    private static float DecodeHalf(ushort h)
    {
        var sign = (h & 0x8000) != 0 ? -1.0 : 1.0;
        var exponent = (h >> 10) & 0x1F;
        var mantissa = h & 0x3FF;
        var magnitude = exponent switch
        {
            0 => mantissa * Math.Pow(2, -24),
            0x1F => mantissa == 0 ? double.PositiveInfinity : double.NaN,
            _ => (1 + mantissa / 1024.0) * Math.Pow(2, exponent - 15),
        };
        return (float)(sign * magnitude);
    }
}
