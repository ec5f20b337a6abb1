using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace SpecializedInfer.Gguf;

/// <summary>
/// Writes GGUF version 3 files: metadata in insertion order, tensors in insertion order, each tensor's data
/// aligned to <see cref="Alignment"/>. Used by the llama2.c converter and by synthetic model generation.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly List<(string Name, long[] Dims, GgmlType Type, long Bytes, Func<byte[]> Produce)> _tensors = [];

    public int Alignment { get; init; } = GgufFile.DefaultAlignment;

    public GgufWriter Add(string key, GgufValue value)
    {
        if (_metadata.Any(kv => kv.Key == key)) throw new ArgumentException($"Metadata key '{key}' added twice.");
        _metadata.Add(new(key, value));
        return this;
    }

    public GgufWriter Add(string key, string value) => Add(key, GgufValue.Of(value));
    public GgufWriter Add(string key, uint value) => Add(key, GgufValue.Of(value));
    public GgufWriter Add(string key, int value) => Add(key, GgufValue.Of(value));
    public GgufWriter Add(string key, float value) => Add(key, GgufValue.Of(value));
    public GgufWriter Add(string key, bool value) => Add(key, GgufValue.Of(value));
    public GgufWriter Add(string key, string[] values) => Add(key, GgufValue.Of(values));
    public GgufWriter Add(string key, float[] values) => Add(key, GgufValue.Of(values));
    public GgufWriter Add(string key, int[] values) => Add(key, GgufValue.Of(values));

    /// <summary>Adds a tensor; <paramref name="dims"/> in ggml order (contiguous dimension first).</summary>
    public GgufWriter AddTensor(string name, long[] dims, GgmlType type, ReadOnlySpan<byte> data)
    {
        var copy = data.ToArray();
        return AddTensor(name, dims, type, () => copy);
    }

    /// <summary>
    /// Adds a tensor whose bytes are produced only while writing, so a multi-gigabyte synthetic model never has
    /// more than one tensor in memory.
    /// </summary>
    public GgufWriter AddTensor(string name, long[] dims, GgmlType type, Func<byte[]> produce)
    {
        if (_tensors.Any(t => t.Name == name)) throw new ArgumentException($"Tensor '{name}' added twice.");
        if (!GgmlTypeInfo.TryGetLayout(type, out var be, out var bb)) throw new ArgumentException($"Unknown tensor type {type}.");
        if (dims.Length is 0 or > 4 || dims.Any(d => d <= 0) || dims[0] % be != 0)
            throw new ArgumentException($"Tensor '{name}' {type} [{string.Join(", ", dims)}] has an invalid shape.");
        long elements = 1;
        foreach (var d in dims) elements *= d;
        _tensors.Add((name, (long[])dims.Clone(), type, elements / be * bb, produce));
        return this;
    }

    public GgufWriter AddTensor(string name, long[] dims, ReadOnlySpan<float> data) =>
        AddTensor(name, dims, GgmlType.F32, MemoryMarshal.AsBytes(data));

    /// <summary>
    /// Writes the file next to <paramref name="path"/> and moves it into place, so a failure leaves no partial file and
    /// a process running the old file keeps its mapping intact: a GGUF is memory-mapped while in use, and truncating a
    /// mapped file in place kills the reader (SIGBUS) on Linux and macOS. Replacing by rename leaves the old inode alone.
    /// </summary>
    public void Write(string path)
    {
        var full = Path.GetFullPath(path);
        var temp = full + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                Write(stream);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public void Write(Stream stream)
    {
        var (metadata, alignment) = ResolveAlignment();
        var start = stream.Position;
        var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(GgufFile.Magic);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value);
        }
        long offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Dims.Length);
            foreach (var d in t.Dims) w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offset = Align(offset + t.Bytes, alignment);
        }
        w.Flush();
        Pad(stream, start, alignment);
        foreach (var t in _tensors)
        {
            var data = t.Produce();
            if (data.LongLength != t.Bytes)
                throw new InvalidOperationException($"Tensor '{t.Name}' produced {data.LongLength} bytes; its shape needs {t.Bytes}.");
            stream.Write(data);
            Pad(stream, start, alignment);
        }
        stream.Flush();
    }

    /// <summary>
    /// Readers take the alignment from 'general.alignment' (32 when absent), so the data must be laid out with exactly
    /// that value: a declared 'general.alignment' wins, and a non-default <see cref="Alignment"/> is declared.
    /// </summary>
    private (List<KeyValuePair<string, GgufValue>> Metadata, int Alignment) ResolveAlignment()
    {
        static bool Valid(long a) => a > 0 && a <= 1 << 20 && (a & (a - 1)) == 0;
        if (!Valid(Alignment))
            throw new InvalidOperationException($"Alignment must be a power of two up to 1 MiB, not {Alignment}.");
        var declared = _metadata.FirstOrDefault(kv => kv.Key == "general.alignment").Value;
        if (declared is null)
            return Alignment == GgufFile.DefaultAlignment
                ? (_metadata, Alignment)
                : ([.. _metadata, new("general.alignment", GgufValue.Of((uint)Alignment))], Alignment);
        if (declared.Type != GgufValueType.UInt32 || !declared.TryGetInteger(out var a) || !Valid(a))
            throw new InvalidOperationException($"Metadata 'general.alignment' must be a uint32 power of two up to 1 MiB, not {declared.Type} {declared}.");
        if (Alignment != GgufFile.DefaultAlignment && Alignment != a)
            throw new InvalidOperationException($"Alignment {Alignment} conflicts with metadata 'general.alignment' = {a}.");
        return (_metadata, (int)a);
    }

    private static long Align(long offset, int alignment) => (offset + alignment - 1) / alignment * alignment;

    private static void Pad(Stream stream, long start, int alignment)
    {
        var position = stream.Position - start;
        var pad = (int)(Align(position, alignment) - position);
        if (pad > 0) stream.Write(new byte[pad]);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue value)
    {
        switch (value.Value)
        {
            case byte v: w.Write(v); break;
            case sbyte v: w.Write(v); break;
            case ushort v: w.Write(v); break;
            case short v: w.Write(v); break;
            case uint v: w.Write(v); break;
            case int v: w.Write(v); break;
            case float v: w.Write(v); break;
            case ulong v: w.Write(v); break;
            case long v: w.Write(v); break;
            case double v: w.Write(v); break;
            case bool v: w.Write((byte)(v ? 1 : 0)); break;
            case string v: WriteString(w, v); break;
            case Array a:
                w.Write((uint)value.ElementType);
                w.Write((ulong)a.Length);
                foreach (var element in a)
                {
                    if (element is GgufValue nested) WriteValue(w, nested);
                    else WriteValue(w, new GgufValue(value.ElementType, element!));
                }
                break;
            default:
                throw new ArgumentException($"Cannot write a metadata value of type {value.Value.GetType()}.");
        }
    }
}
