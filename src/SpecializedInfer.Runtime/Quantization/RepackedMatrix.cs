using System.Runtime.InteropServices;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;

namespace SpecializedInfer.Quantization;

/// <summary>
/// A weight matrix as a generated engine multiplies it: a Q8_0 or Q4_0 matrix repacked into tiles
/// (<see cref="TiledRepack"/>) in its own pinned array whose data starts on a 64-byte boundary, or any other matrix as
/// the F32 values <see cref="WeightTensor.Span"/> gives (the file's, or its expansion), or a Q4_K/Q6_K matrix left in
/// the file mapping as it is (<see cref="Tensor"/>, multiplied by <see cref="SuperBlockDot.Rows"/>). Which one follows
/// the weights' own rule (<see cref="LlamaWeights"/> keeps a Q8_0/Q4_0/Q4_K/Q6_K matrix of more than one row in its
/// blocks), so a generated engine multiplies in integers exactly the matrices the reference engine does.
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
        // The engine reads the tiles from now on: the file's pages the repack read would otherwise stay resident beside
        // them (about twice the layers' size) until the kernel reclaims page cache.
        tensor.ReleaseMappedPages();
    }

    /// <summary>The matrix <paramref name="tensor"/> as a generated engine multiplies it (repacking it now if it is Q8_0/Q4_0).</summary>
    public static RepackedMatrix Of(WeightTensor tensor) => new(tensor);

    /// <summary>F32, the tiled Q8_0/Q4_0 of <see cref="Blocks"/>, or Q4_K/Q6_K in the mapping (<see cref="Tensor"/>).</summary>
    public GgmlType Type => _blocks is not null || KeptInSuperBlocks ? _tensor.Type : GgmlType.F32;

    private bool KeptInSuperBlocks => _tensor.IsQuantized && QuantizedDot.UsesSuperBlocks(_tensor.Type);

    /// <summary>The Q4_K/Q6_K matrix as bound, in the file mapping (those types only).</summary>
    public WeightTensor Tensor => KeptInSuperBlocks
        ? _tensor
        : throw new InvalidOperationException($"This matrix is multiplied as {Type}, not in Q4_K/Q6_K super-blocks.");

    public int Rows => _tensor.Rows;
    public int Cols => _tensor.Cols;

    /// <summary>The repacked tiles (Q8_0/Q4_0 only), starting on a 64-byte boundary.</summary>
    public ReadOnlySpan<byte> Blocks => _blocks is null
        ? throw new InvalidOperationException($"This matrix is {_tensor.Type}, not repacked into tiles.")
        : new ReadOnlySpan<byte>(_blocks, _offset, _length);

    /// <summary>The values as floats (F32 only: a repacked matrix is never expanded).</summary>
    public ReadOnlySpan<float> Floats => _blocks is null && !KeptInSuperBlocks
        ? _tensor.Span
        : throw new InvalidOperationException($"This matrix is {_tensor.Type}, multiplied in integers.");
}
