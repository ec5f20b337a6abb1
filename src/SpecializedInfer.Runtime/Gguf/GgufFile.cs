using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace SpecializedInfer.Gguf;

/// <summary>
/// A GGUF model file (versions 2 and 3), memory-mapped read-only. The header is parsed and validated up front;
/// tensor data stays in the mapping and is handed out as spans, so an F32 model costs no copy and no load time.
/// Spans returned by this type are valid until it is disposed.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    public const int DefaultAlignment = 32;

    // Bounds on what a header may claim before the claim is called absurd: a count must fit the bytes that remain
    // (each entry takes at least this many bytes), so a corrupt count fails fast instead of allocating gigabytes.
    private const int MinKeyValueBytes = 8 + 4;
    private const int MinTensorInfoBytes = 8 + 4 + 4 + 8;
    private const int MaxDimensions = 4; // GGML_MAX_DIMS
    private const int MaxArrayNesting = 8;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _base;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;

    private GgufFile(string path, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* @base)
    {
        FilePath = path;
        FileLength = length;
        _map = map;
        _view = view;
        _base = @base;
        try
        {
            var cursor = new GgufCursor(@base, length, path);
            (Version, Metadata, Tensors, Alignment, DataOffset) = ParseHeader(ref cursor, path);
        }
        catch
        {
            Dispose();
            throw;
        }
        _tensorsByName = Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and validates a GGUF file. Any malformation throws <see cref="GgufFormatException"/>.</summary>
    public static GgufFile Open(string path)
    {
        var full = Path.GetFullPath(path);
        var length = new FileInfo(full).Length; // throws FileNotFoundException for a missing file, as it should
        if (length == 0)
            return new GgufFile(full, 0, null, null, null);
        var map = MemoryMappedFile.CreateFromFile(full, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* ptr = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            ptr += view.PointerOffset;
            return new GgufFile(full, length, map, view, ptr);
        }
        catch
        {
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    public string FilePath { get; }
    public long FileLength { get; }
    public uint Version { get; }
    public int Alignment { get; }

    /// <summary>Absolute file offset where tensor data begins.</summary>
    public long DataOffset { get; }

    /// <summary>Metadata in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata { get; }

    /// <summary>Tensor entries in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    public GgufValue? Find(string key)
    {
        foreach (var kv in Metadata)
            if (kv.Key == key) return kv.Value;
        return null;
    }

    public bool HasTensor(string name) => _tensorsByName.ContainsKey(name);

    public GgufTensorInfo GetTensor(string name) =>
        _tensorsByName.TryGetValue(name, out var info)
            ? info
            : throw new GgufFormatException(FilePath, DataOffset, $"a tensor named '{name}' (the file has {Tensors.Count} tensors, none by that name)");

    /// <summary>A metadata string; a missing key or another type throws naming the key.</summary>
    public string GetString(string key) => Require(key) is { Value: string s } ? s : throw WrongType(key, "a string");

    /// <summary>A metadata integer of any integer type, checked to lie in [min, max].</summary>
    public long GetInteger(string key, long min = long.MinValue, long max = long.MaxValue)
    {
        var v = Require(key);
        if (!v.TryGetInteger(out var value)) throw WrongType(key, "an integer");
        if (value < min || value > max)
            throw new GgufFormatException(FilePath, v.Offset, $"metadata '{key}' between {min} and {max}, found {value}");
        return value;
    }

    public long? GetIntegerOrNull(string key, long min = long.MinValue, long max = long.MaxValue) =>
        Find(key) is null ? null : GetInteger(key, min, max);

    public float GetFloat(string key) =>
        Require(key).TryGetNumber(out var d) ? (float)d : throw WrongType(key, "a number");

    public float? GetFloatOrNull(string key) => Find(key) is null ? null : GetFloat(key);

    // The exact-type test matters: the CLR lets a uint[] pass as int[] (and byte[] as sbyte[]), which would
    // silently reinterpret values of the wrong type.
    public T[] GetArray<T>(string key) =>
        Require(key) is { Value: T[] a } && a.GetType() == typeof(T[]) ? a : throw WrongType(key, $"an array of {typeof(T).Name}");

    private GgufValue Require(string key) =>
        Find(key) ?? throw new GgufFormatException(FilePath, 0, $"metadata key '{key}' (not present in the header)");

    private GgufFormatException WrongType(string key, string expected)
    {
        var v = Find(key)!;
        return new GgufFormatException(FilePath, v.Offset, $"metadata '{key}' to be {expected}, found {v.Type}{(v.Type == GgufValueType.Array ? " of " + v.ElementType : "")}");
    }

    /// <summary>The raw bytes of a tensor, straight from the mapping.</summary>
    public ReadOnlySpan<byte> GetBytes(GgufTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_base == null && FileLength != 0, this);
        // Parse-time validation guarantees FileOffset + ByteSize <= FileLength.
        return new ReadOnlySpan<byte>(_base + tensor.FileOffset, checked((int)tensor.ByteSize));
    }

    /// <summary>Zero-copy view of an F32 tensor.</summary>
    public ReadOnlySpan<float> GetFloat32(string name)
    {
        var t = GetTensor(name);
        if (t.Type != GgmlType.F32)
            throw new GgufFormatException(FilePath, t.HeaderOffset, $"tensor '{name}' of type F32 for a zero-copy view, found {t.Type}");
        return MemoryMarshal.Cast<byte, float>(GetBytes(t));
    }

    /// <summary>A tensor as floats: F32 copied, F16/BF16/Q8_0 dequantized.</summary>
    public float[] ReadAsFloat32(string name)
    {
        var t = GetTensor(name);
        if (!GgmlTypeInfo.CanDequantize(t.Type))
            throw new GgufFormatException(FilePath, t.HeaderOffset, $"tensor '{name}' of type F32, F16, BF16 or Q8_0, found {t.Type}");
        var result = new float[t.ElementCount];
        GgmlDequantize.ToFloat32(t.Type, GetBytes(t), result);
        return result;
    }

    public void Dispose()
    {
        if (_view is not null && _base != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _base = null;
        }
        _view?.Dispose();
        _map?.Dispose();
    }

    private static (uint, IReadOnlyList<KeyValuePair<string, GgufValue>>, IReadOnlyList<GgufTensorInfo>, int, long) ParseHeader(ref GgufCursor c, string path)
    {
        var magic = c.ReadU32("the magic 'GGUF'");
        if (magic != Magic)
            throw c.Error($"the magic 'GGUF' (0x{Magic:X8}), found 0x{magic:X8}", 0);
        var version = c.ReadU32("the format version");
        if (version is not (2 or 3))
            throw c.Error($"format version 2 or 3, found {version}", 4);

        var tensorCountAt = c.Position;
        var tensorCount = c.ReadU64("the tensor count");
        var kvCountAt = c.Position;
        var kvCount = c.ReadU64("the metadata key/value count");
        if (kvCount > (ulong)(c.Remaining / MinKeyValueBytes))
            throw c.Error($"a metadata count that fits the file (at most {c.Remaining / MinKeyValueBytes}), found {kvCount}", kvCountAt);
        if (tensorCount > (ulong)(c.Remaining / MinTensorInfoBytes))
            throw c.Error($"a tensor count that fits the file (at most {c.Remaining / MinTensorInfoBytes}), found {tensorCount}", tensorCountAt);

        var metadata = new List<KeyValuePair<string, GgufValue>>((int)kvCount);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            var keyAt = c.Position;
            var key = c.ReadString($"the key of metadata entry {i}");
            if (!keys.Add(key)) throw c.Error($"unique metadata keys, found '{key}' twice", keyAt);
            var typeAt = c.Position;
            var type = (GgufValueType)c.ReadU32($"the value type of metadata '{key}'");
            var value = ReadValue(ref c, type, key, typeAt, 0);
            metadata.Add(new(key, value));
        }

        var alignment = DefaultAlignment;
        var alignEntry = metadata.FirstOrDefault(kv => kv.Key == "general.alignment").Value;
        if (alignEntry is not null)
        {
            if (!alignEntry.TryGetInteger(out var a) || a <= 0 || a > 1 << 20 || (a & (a - 1)) != 0)
                throw c.Error($"'general.alignment' to be a power-of-two integer up to 1 MiB, found {alignEntry.Type} {alignEntry}", alignEntry.Offset);
            alignment = (int)a;
        }

        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            var at = c.Position;
            var name = c.ReadString($"the name of tensor {i}");
            if (!names.Add(name)) throw c.Error($"unique tensor names, found '{name}' twice", at);
            var nDimsAt = c.Position;
            var nDims = c.ReadU32($"the dimension count of tensor '{name}'");
            if (nDims is 0 or > MaxDimensions)
                throw c.Error($"1 to {MaxDimensions} dimensions for tensor '{name}', found {nDims}", nDimsAt);
            var dims = new long[nDims];
            long elements = 1;
            for (var d = 0; d < nDims; d++)
            {
                var dimAt = c.Position;
                var dim = c.ReadU64($"dimension {d} of tensor '{name}'");
                if (dim == 0 || dim > int.MaxValue)
                    throw c.Error($"dimension {d} of tensor '{name}' between 1 and {int.MaxValue}, found {dim}", dimAt);
                dims[d] = (long)dim;
                elements = elements > long.MaxValue / (long)dim
                    ? throw c.Error($"an element count of tensor '{name}' that fits 64 bits", dimAt)
                    : elements * (long)dim;
            }
            var typeAt = c.Position;
            var typeValue = c.ReadU32($"the type of tensor '{name}'");
            var type = (GgmlType)typeValue;
            if (!GgmlTypeInfo.TryGetLayout(type, out var blockElements, out var blockBytes) || !Enum.IsDefined(type))
                throw c.Error($"a known ggml tensor type for '{name}', found type id {typeValue}", typeAt);
            if (dims[0] % blockElements != 0)
                throw c.Error($"the first dimension of '{name}' ({dims[0]}) to be a multiple of {type}'s block of {blockElements}", nDimsAt);
            if (elements / blockElements > long.MaxValue / blockBytes)
                throw c.Error($"a byte size of tensor '{name}' that fits 64 bits ({elements} elements of {type})", nDimsAt);
            var offsetAt = c.Position;
            var offset = c.ReadU64($"the data offset of tensor '{name}'");
            if (offset % (ulong)alignment != 0)
                throw c.Error($"the data offset of '{name}' to be a multiple of the alignment {alignment}, found {offset}", offsetAt);
            var bytes = elements / blockElements * blockBytes;
            tensors.Add(new GgufTensorInfo(name, dims, type, (long)Math.Min(offset, long.MaxValue), bytes) { HeaderOffset = at });
        }

        c.AlignTo(alignment, "the tensor data");
        var dataOffset = c.Position;
        var dataLength = c.Length - dataOffset;
        var placed = new List<GgufTensorInfo>(tensors.Count);
        foreach (var t in tensors)
        {
            if (t.DataOffset > dataLength || t.ByteSize > dataLength - t.DataOffset)
                throw c.Error(
                    $"tensor '{t.Name}' ({t.Type} {t.Shape}, {t.ByteSize} bytes at data offset {t.DataOffset}) to lie within the file, whose data section holds {dataLength} bytes",
                    t.HeaderOffset);
            placed.Add(t with { FileOffset = dataOffset + t.DataOffset });
        }
        // Overlapping tensors mean a corrupt offset table even when each one fits on its own.
        var sorted = placed.OrderBy(t => t.DataOffset).ToList();
        for (var i = 1; i < sorted.Count; i++)
        {
            var prev = sorted[i - 1];
            if (sorted[i].DataOffset < prev.DataOffset + prev.ByteSize)
                throw c.Error($"tensor '{sorted[i].Name}' to start after '{prev.Name}' ends (data offset {prev.DataOffset + prev.ByteSize}), found {sorted[i].DataOffset}", sorted[i].HeaderOffset);
        }
        return (version, metadata, placed, alignment, dataOffset);
    }

    private static GgufValue ReadValue(ref GgufCursor c, GgufValueType type, string key, long at, int depth)
    {
        object value = type switch
        {
            GgufValueType.UInt8 => c.ReadU8($"a uint8 value for '{key}'"),
            GgufValueType.Int8 => (sbyte)c.ReadU8($"an int8 value for '{key}'"),
            GgufValueType.UInt16 => c.ReadU16($"a uint16 value for '{key}'"),
            GgufValueType.Int16 => (short)c.ReadU16($"an int16 value for '{key}'"),
            GgufValueType.UInt32 => c.ReadU32($"a uint32 value for '{key}'"),
            GgufValueType.Int32 => (int)c.ReadU32($"an int32 value for '{key}'"),
            GgufValueType.Float32 => c.ReadF32($"a float32 value for '{key}'"),
            GgufValueType.UInt64 => c.ReadU64($"a uint64 value for '{key}'"),
            GgufValueType.Int64 => (long)c.ReadU64($"an int64 value for '{key}'"),
            GgufValueType.Float64 => c.ReadF64($"a float64 value for '{key}'"),
            GgufValueType.Bool => ReadBool(ref c, key),
            GgufValueType.String => c.ReadString($"the string value of '{key}'"),
            GgufValueType.Array => null!,
            _ => throw c.Error($"a known value type (0-12) for metadata '{key}', found {(uint)type}", at),
        };
        if (type != GgufValueType.Array)
            return new GgufValue(type, value) { Offset = at };

        if (depth >= MaxArrayNesting)
            throw c.Error($"arrays nested at most {MaxArrayNesting} deep in '{key}'", at);
        var elemAt = c.Position;
        var elemType = (GgufValueType)c.ReadU32($"the element type of array '{key}'");
        var countAt = c.Position;
        var count = c.ReadU64($"the length of array '{key}'");
        var minElementBytes = elemType switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
            GgufValueType.Array => 12,
            _ => throw c.Error($"a known element type (0-12) for array '{key}', found {(uint)elemType}", elemAt),
        };
        if (count > (ulong)(c.Remaining / minElementBytes) || count > (ulong)Array.MaxLength)
            throw c.Error($"a length for array '{key}' that fits the file (at most {c.Remaining / minElementBytes} elements), found {count}", countAt);
        var n = (int)count;
        var elementWhat = elemType == GgufValueType.String ? $"an element of string array '{key}'" : key; // formatted once, not per element
        Array array = elemType switch
        {
            GgufValueType.UInt8 => Fill(ref c, new byte[n], (ref GgufCursor r) => r.ReadU8(key)),
            GgufValueType.Int8 => Fill(ref c, new sbyte[n], (ref GgufCursor r) => (sbyte)r.ReadU8(key)),
            GgufValueType.UInt16 => Fill(ref c, new ushort[n], (ref GgufCursor r) => r.ReadU16(key)),
            GgufValueType.Int16 => Fill(ref c, new short[n], (ref GgufCursor r) => (short)r.ReadU16(key)),
            GgufValueType.UInt32 => Fill(ref c, new uint[n], (ref GgufCursor r) => r.ReadU32(key)),
            GgufValueType.Int32 => Fill(ref c, new int[n], (ref GgufCursor r) => (int)r.ReadU32(key)),
            GgufValueType.Float32 => Fill(ref c, new float[n], (ref GgufCursor r) => r.ReadF32(key)),
            GgufValueType.UInt64 => Fill(ref c, new ulong[n], (ref GgufCursor r) => r.ReadU64(key)),
            GgufValueType.Int64 => Fill(ref c, new long[n], (ref GgufCursor r) => (long)r.ReadU64(key)),
            GgufValueType.Float64 => Fill(ref c, new double[n], (ref GgufCursor r) => r.ReadF64(key)),
            GgufValueType.Bool => Fill(ref c, new bool[n], (ref GgufCursor r) => ReadBool(ref r, key)),
            GgufValueType.String => Fill(ref c, new string[n], (ref GgufCursor r) => r.ReadString(elementWhat)),
            _ => ReadNested(ref c, n, key, depth),
        };
        return new GgufValue(GgufValueType.Array, array, elemType) { Offset = at };
    }

    private static GgufValue[] ReadNested(ref GgufCursor c, int n, string key, int depth)
    {
        // An element of an array of arrays is itself an array value: element type, count, elements.
        var result = new GgufValue[n];
        for (var i = 0; i < n; i++)
            result[i] = ReadValue(ref c, GgufValueType.Array, key, c.Position, depth + 1);
        return result;
    }

    private delegate T ElementReader<T>(ref GgufCursor c);

    private static T[] Fill<T>(ref GgufCursor c, T[] target, ElementReader<T> read)
    {
        for (var i = 0; i < target.Length; i++) target[i] = read(ref c);
        return target;
    }

    private static bool ReadBool(ref GgufCursor c, string key)
    {
        var at = c.Position;
        var b = c.ReadU8($"a bool value for '{key}'");
        return b switch { 0 => false, 1 => true, _ => throw c.Error($"a bool (0 or 1) for '{key}', found {b}", at) };
    }
}
