using System.Runtime.InteropServices;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Models;

/// <summary>
/// The F32 copy of a quantized tensor, made on first use and kept for the life of the weights (a pinned array, so
/// spans into it stay valid): what <see cref="WeightTensor.Span"/> returns for code that reads floats. Thread-safe.
/// </summary>
internal sealed unsafe class Float32Expansion
{
    private readonly byte* _source;
    private readonly GgmlType _type;
    private readonly int _count;
    private readonly long _sourceBytes;
    private readonly Action<long, long> _onExpanded;
    private readonly object _gate = new();
    private float[]? _values;

    /// <summary><paramref name="count"/> values of <paramref name="type"/> at <paramref name="source"/>; <paramref name="onExpanded"/> is told the bytes in memory and in the file, once, when the copy is made.</summary>
    public Float32Expansion(byte* source, long sourceBytes, GgmlType type, int count, Action<long, long> onExpanded)
    {
        _source = source;
        _sourceBytes = sourceBytes;
        _type = type;
        _count = count;
        _onExpanded = onExpanded;
    }

    public ReadOnlySpan<float> Values
    {
        get
        {
            if (Volatile.Read(ref _values) is { } values) return values;
            lock (_gate)
            {
                if (_values is null)
                {
                    var expanded = GC.AllocateUninitializedArray<float>(_count, pinned: true);
                    GgmlDequantize.ToFloat32(_type, new ReadOnlySpan<byte>(_source, checked((int)_sourceBytes)), expanded);
                    Volatile.Write(ref _values, expanded);
                    _onExpanded((long)_count * sizeof(float), _sourceBytes);
                }
                return _values;
            }
        }
    }
}
