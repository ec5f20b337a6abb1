using System.Runtime.InteropServices;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;

namespace SpecializedInfer.Quantization;

/// <summary>
/// A weight matrix as a generated engine multiplies it: a Q8_0 or Q4_0 matrix repacked into tiles
/// (<see cref="TiledRepack"/>) in its own pinned array whose data starts on a 64-byte boundary, or any other matrix as
/// the F32 values <see cref="WeightTensor.Span"/> gives (the file's, or its expansion). Which one follows the weights'
/// own rule (<see cref="LlamaWeights"/> keeps a Q8_0/Q4_0 matrix of more than one row in its blocks), so a generated
/// engine multiplies in integers exactly the matrices the reference engine does.
/// </summary>
public sealed class RepackedMatrix
{
    private readonly WeightTensor _tensor;
    private readonly byte[]? _blocks;
    private readonly int _offset;
    private readonly int _length;

    private RepackedMatrix(WeightTensor tensor)
    {
        _tensor = tensor;
        if (TiledRepack.TypeOf(tensor.Type) is null) return;
        _length = checked((int)TiledRepack.Bytes(tensor));
        _blocks = GC.AllocateUninitializedArray<byte>(_length + 64, pinned: true);
        var address = Marshal.UnsafeAddrOfPinnedArrayElement(_blocks, 0).ToInt64();
        _offset = (int)((64 - (address & 63)) & 63); // pinned: the array never moves
        TiledRepack.Repack(tensor, _blocks.AsSpan(_offset, _length));
    }

    /// <summary>The matrix <paramref name="tensor"/> as a generated engine multiplies it (repacking it now if it is Q8_0/Q4_0).</summary>
    public static RepackedMatrix Of(WeightTensor tensor) => new(tensor);

    /// <summary>F32, or the tiled Q8_0/Q4_0 of <see cref="Blocks"/>.</summary>
    public GgmlType Type => _blocks is null ? GgmlType.F32 : _tensor.Type;

    public int Rows => _tensor.Rows;
    public int Cols => _tensor.Cols;

    /// <summary>The repacked tiles (Q8_0/Q4_0 only), starting on a 64-byte boundary.</summary>
    public ReadOnlySpan<byte> Blocks => _blocks is null
        ? throw new InvalidOperationException($"This matrix is {_tensor.Type}, not repacked into tiles.")
        : new ReadOnlySpan<byte>(_blocks, _offset, _length);

    /// <summary>The values as floats (F32 only: a repacked matrix is never expanded).</summary>
    public ReadOnlySpan<float> Floats => _blocks is null
        ? _tensor.Span
        : throw new InvalidOperationException($"This matrix is repacked {_tensor.Type} tiles, multiplied in integers.");
}
