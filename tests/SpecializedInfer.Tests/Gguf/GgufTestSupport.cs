using System.Buffers.Binary;
using System.Text;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tests.Gguf;

/// <summary>A private temporary folder, deleted with everything in it on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "si-gguf-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, byte[] bytes)
    {
        var path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { /* a mapping still closing on some OS; the folder is in temp anyway */ }
    }
}

/// <summary>The shipped test models, read once.</summary>
public static class ShippedModels
{
    public const string Gguf = "stories260K.gguf";
    public const string Checkpoint = "stories260K.bin";
    public const string Tokenizer = "tok512.bin";

    public static string GgufPath => ModelLocator.Find(Gguf);
    public static string CheckpointPath => ModelLocator.Find(Checkpoint);
    public static string TokenizerPath => ModelLocator.Find(Tokenizer);

    private static readonly Lazy<byte[]> GgufBytesLazy = new(() => File.ReadAllBytes(GgufPath));
    private static readonly Lazy<byte[]> CheckpointBytesLazy = new(() => File.ReadAllBytes(CheckpointPath));
    private static readonly Lazy<byte[]> TokenizerBytesLazy = new(() => File.ReadAllBytes(TokenizerPath));

    /// <summary>A fresh copy each time, so a test may patch it.</summary>
    public static byte[] GgufBytes() => (byte[])GgufBytesLazy.Value.Clone();

    public static byte[] CheckpointBytes() => (byte[])CheckpointBytesLazy.Value.Clone();

    public static byte[] TokenizerBytes() => (byte[])TokenizerBytesLazy.Value.Clone();
}

/// <summary>Little-endian patching of file images.</summary>
public static class ByteEdits
{
    public static byte[] U32(this byte[] b, long at, uint v) { BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan((int)at), v); return b; }
    public static byte[] I32(this byte[] b, long at, int v) { BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan((int)at), v); return b; }
    public static byte[] U64(this byte[] b, long at, ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan((int)at), v); return b; }
    public static byte[] Set(this byte[] b, long at, byte v) { b[at] = v; return b; }

    public static byte[] Ascii(this byte[] b, long at, string s) { Encoding.ASCII.GetBytes(s).CopyTo(b, at); return b; }

    public static byte[] Take(this byte[] b, long count) => b.AsSpan(0, (int)count).ToArray();

    public static byte[] Append(this byte[] b, params byte[] extra) => [.. b, .. extra];

    public static uint ReadU32(this byte[] b, long at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan((int)at));

    public static ulong ReadU64(this byte[] b, long at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan((int)at));

    /// <summary>Offset of the first occurrence of <paramref name="ascii"/>, failing the test if absent.</summary>
    public static int IndexOf(this byte[] b, string ascii)
    {
        var i = b.AsSpan().IndexOf(Encoding.ASCII.GetBytes(ascii));
        Assert.True(i >= 0, $"'{ascii}' not found");
        return i;
    }

    public static byte[] ToBytes(this GgufWriter writer)
    {
        using var stream = new MemoryStream();
        writer.Write(stream);
        return stream.ToArray();
    }
}
