using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SpecializedInfer.Encoders;

/// <summary>
/// Linear layers repacked for a generated encoder's matrix kernel: input-major (<c>[inputs, outputs]</c>, row k holds
/// weight k of every output), so a block of token rows multiplies contiguous vectors of outputs with each input
/// broadcast and no horizontal sums; several layers reading the same input (query, key and value) side by side as one
/// matrix of their outputs together. Pinned and 64-byte aligned, so every vector load of a row is aligned when the
/// output count is a multiple of 16.
/// </summary>
public sealed class PackedMatrix
{
    private readonly float[] _values;
    private readonly int _offset;

    private unsafe PackedMatrix(int inputs, int outputs, float[] bias)
    {
        Inputs = inputs;
        Outputs = outputs;
        Bias = bias;
        _values = GC.AllocateUninitializedArray<float>(inputs * outputs + 16, pinned: true);
        var address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_values));
        _offset = (int)((64 - address % 64) % 64 / sizeof(float));
    }

    public int Inputs { get; }
    public int Outputs { get; }

    /// <summary>The biases of every output, in the packed order.</summary>
    public float[] Bias { get; }

    /// <summary>Weight (input 0, output 0); input k's weights follow at k × <see cref="Outputs"/>.</summary>
    public ref float Start => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_values), _offset);

    /// <summary>The layers' weights side by side (outputs of the first, then the second's, ...); every layer has the same inputs.</summary>
    public static PackedMatrix Of(params BertLinear[] layers)
    {
        ArgumentOutOfRangeException.ThrowIfZero(layers.Length);
        var inputs = layers[0].Inputs;
        if (layers.Any(l => l.Inputs != inputs)) throw new ArgumentException("Layers packed together read the same input.", nameof(layers));
        var outputs = layers.Sum(l => l.Outputs);
        var packed = new PackedMatrix(inputs, outputs, layers.SelectMany(l => l.Bias).ToArray());
        var values = MemoryMarshal.CreateSpan(ref packed.Start, inputs * outputs);
        var first = 0;
        foreach (var l in layers)
        {
            for (var o = 0; o < l.Outputs; o++)
                for (var k = 0; k < inputs; k++) values[k * outputs + first + o] = l.Weight[o * inputs + k];
            first += l.Outputs;
        }
        return packed;
    }
}
