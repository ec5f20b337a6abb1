using SpecializedInfer.Engine;

namespace SpecializedInfer.Encoders;

/// <summary>
/// Linear layers repacked for a generated encoder's matrix kernel: in panels of <see cref="TileWidth"/> outputs, each
/// panel input-major (<c>[inputs, 64]</c>: row k holds input k's weight for the panel's 64 outputs), panel after panel.
/// A block of token rows then multiplies contiguous vectors of outputs with each input broadcast and no horizontal
/// sums, and a run of inputs of one panel (a k block: 128 inputs are 32 KiB) is one contiguous stretch of memory that
/// stays in L1 while every row block of a chunk reads it, instead of rows thousands of bytes apart that map onto a few
/// cache sets. Several layers reading the same input (query, key and value) sit side by side as one matrix of their
/// outputs together. The last panel is padded with zeros to 64 outputs (the kernels never compute the padding).
/// Pinned and 64-byte aligned, so every vector load is aligned.
/// </summary>
public sealed class PackedMatrix
{
    /// <summary>Outputs per panel; the generated kernels' output tiles.</summary>
    public const int TileWidth = 64;

    private readonly AlignedBuffer _values;

    private PackedMatrix(int inputs, int outputs, float[] bias)
    {
        Inputs = inputs;
        Outputs = outputs;
        Bias = bias;
        _values = new AlignedBuffer(Length(inputs, outputs));
    }

    public int Inputs { get; }
    public int Outputs { get; }

    /// <summary>The biases of every output, in the packed order.</summary>
    public float[] Bias { get; }

    /// <summary>
    /// Weight (input 0, output 0). Output o's weight for input k is at (o / 64) × 64 × <see cref="Inputs"/> + k × 64 + o % 64.
    /// </summary>
    public ref float Start => ref _values.Start;

    /// <summary>Where output <paramref name="output"/>'s weight for input <paramref name="input"/> is, from <see cref="Start"/>.</summary>
    public static long IndexOf(int inputs, int input, int output) =>
        (long)(output / TileWidth) * TileWidth * inputs + (long)input * TileWidth + output % TileWidth;

    /// <summary>Floats the panels take: whole panels of 64 outputs.</summary>
    private static int Length(int inputs, int outputs) => checked((outputs + TileWidth - 1) / TileWidth * TileWidth * inputs);

    /// <summary>The layers' weights side by side (outputs of the first, then the second's, ...); every layer has the same inputs.</summary>
    public static PackedMatrix Of(params BertLinear[] layers)
    {
        if (layers.Length == 0) throw new ArgumentException("A packed matrix needs at least one layer.");
        var inputs = layers[0].Inputs;
        if (layers.Any(l => l.Inputs != inputs)) throw new ArgumentException("Layers packed together read the same input.");
        var outputs = layers.Sum(l => l.Outputs);
        var packed = new PackedMatrix(inputs, outputs, layers.SelectMany(l => l.Bias).ToArray());
        var values = packed._values.Span;
        var first = 0;
        foreach (var l in layers)
        {
            for (var o = 0; o < l.Outputs; o++)
                for (var k = 0; k < inputs; k++) values[(int)IndexOf(inputs, k, first + o)] = l.Weight[o * inputs + k];
            first += l.Outputs;
        }
        return packed;
    }
}
