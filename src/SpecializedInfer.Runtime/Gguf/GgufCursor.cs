using System.Buffers.Binary;
using System.Text;

namespace SpecializedInfer.Gguf;

/// <summary>
/// Bounds-checked little-endian reader over the mapped header. Every read names what it expected, so a short or
/// corrupt file surfaces as a <see cref="GgufFormatException"/> with an offset, never an IndexOutOfRange.
/// </summary>
internal unsafe struct GgufCursor
{
    private readonly byte* _base;
    private readonly string _path;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public GgufCursor(byte* @base, long length, string path)
    {
        _base = @base;
        Length = length;
        _path = path;
        Position = 0;
    }

    public long Length { get; }
    public long Position { get; private set; }
    public readonly long Remaining => Length - Position;

    public readonly GgufFormatException Error(string expected, long? at = null) => new(_path, at ?? Position, expected);

    private readonly ReadOnlySpan<byte> Take(long count, string what)
    {
        if (count < 0 || count > Remaining)
            throw Error($"{what} ({count} bytes), but only {Remaining} bytes remain in the {Length}-byte file");
        return new ReadOnlySpan<byte>(_base + Position, checked((int)count));
    }

    public byte ReadU8(string what) { var v = Take(1, what)[0]; Position += 1; return v; }
    public ushort ReadU16(string what) { var v = BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what)); Position += 2; return v; }
    public uint ReadU32(string what) { var v = BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what)); Position += 4; return v; }
    public ulong ReadU64(string what) { var v = BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what)); Position += 8; return v; }
    public float ReadF32(string what) { var v = BinaryPrimitives.ReadSingleLittleEndian(Take(4, what)); Position += 4; return v; }
    public double ReadF64(string what) { var v = BinaryPrimitives.ReadDoubleLittleEndian(Take(8, what)); Position += 8; return v; }

    /// <summary>A GGUF string: uint64 byte length, then UTF-8 bytes (no terminator).</summary>
    public string ReadString(string what)
    {
        var start = Position;
        // Not ReadU64(...): formatting its description eagerly would cost a string per token of a large vocabulary.
        if (Remaining < 8)
            throw Error($"the byte length of {what} (8 bytes), but only {Remaining} bytes remain in the {Length}-byte file");
        var length = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_base + Position, 8));
        Position += 8;
        if (length > (ulong)Remaining)
            throw Error($"{what} of {length} bytes, but only {Remaining} bytes remain in the {Length}-byte file", start);
        var bytes = Take((long)length, what);
        string s;
        try { s = StrictUtf8.GetString(bytes); }
        catch (DecoderFallbackException e) { throw new GgufFormatException(_path, Position, $"{what} as valid UTF-8", e); }
        Position += (long)length;
        return s;
    }

    public void Skip(long count, string what) { Take(count, what); Position += count; }

    public void AlignTo(long alignment, string what)
    {
        var pad = (alignment - Position % alignment) % alignment;
        if (pad > Remaining) throw Error($"{pad} bytes of padding before {what}, but only {Remaining} bytes remain");
        Position += pad;
    }
}
