namespace SpecializedInfer.Quantization;

/// <summary>
/// Input vectors quantized for a product with Q8_0/Q4_0 weights (<see cref="ActivationQuantizer"/>, the CPU backend's
/// arithmetic), held the way generated engines' integer kernels read them: the quants of every row in order, and per
/// block of 32 its scale (the fp16 value as a float) and the sum of its quants (the kernels store weights unsigned,
/// w + 128 or w + 8, and subtract that offset times the sum). Allocated once per session; quantizing allocates nothing.
/// </summary>
public sealed class QuantizedActivations
{
    /// <summary>Room for <paramref name="rows"/> vectors of up to <paramref name="cols"/> values (a multiple of 32).</summary>
    public QuantizedActivations(int rows, int cols)
    {
        if (rows < 1 || cols < ActivationQuantizer.BlockValues || cols % ActivationQuantizer.BlockValues != 0)
            throw new ArgumentException($"Quantized activations hold at least one row of whole {ActivationQuantizer.BlockValues}-value blocks; asked for {rows} × {cols}.");
        Quants = new sbyte[rows * cols];
        Scales = new float[rows * cols / ActivationQuantizer.BlockValues];
        Sums = new int[Scales.Length];
    }

    /// <summary>The quants, row after row (a row of <see cref="Cols"/> values).</summary>
    public sbyte[] Quants { get; }

    /// <summary>Each block's scale, row after row (<see cref="Cols"/> / 32 per row).</summary>
    public float[] Scales { get; }

    /// <summary>Each block's sum of quants, laid out as <see cref="Scales"/>.</summary>
    public int[] Sums { get; }

    /// <summary>Values per row of the last <see cref="Quantize"/>.</summary>
    public int Cols { get; private set; }

    /// <summary>Rows of the last <see cref="Quantize"/>.</summary>
    public int Rows { get; private set; }

    /// <summary>Quantizes the first <paramref name="rows"/> rows of <paramref name="cols"/> values of <paramref name="values"/>.</summary>
    public void Quantize(ReadOnlySpan<float> values, int cols, int rows)
    {
        var blocks = cols / ActivationQuantizer.BlockValues;
        if (rows < 1 || cols % ActivationQuantizer.BlockValues != 0 || (long)rows * cols > Quants.Length || (long)rows * cols > values.Length)
            throw new ArgumentException($"{rows} rows of {cols} values do not fit the quantized activations ({Quants.Length} values) or the input ({values.Length}).");
        ActivationQuantizer.Q8_0(values[..(rows * cols)], Quants, Scales.AsSpan(0, rows * blocks), Sums.AsSpan(0, rows * blocks));
        Cols = cols;
        Rows = rows;
    }
}
