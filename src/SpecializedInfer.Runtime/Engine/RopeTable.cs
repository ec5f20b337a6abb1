namespace SpecializedInfer.Engine;

/// <summary>
/// Precomputed rotary cos/sin per position and frequency pair. Angles are built the way ggml builds them
/// (theta starts at the position and is multiplied by base^(-2/n_rot) once per pair, in float), so the
/// reference matches llama.cpp to the last bits rather than to a closed form's rounding.
/// </summary>
public sealed class RopeTable
{
    private readonly float _scale;
    private float[] _cos;
    private float[] _sin;

    /// <param name="positions">positions computed now; <see cref="EnsurePositions"/> adds more as a session's context fills</param>
    /// <param name="rotaryDims">rotated dimensions per head (two per frequency pair)</param>
    /// <param name="theta">the rotary base</param>
    public RopeTable(int positions, int rotaryDims, float theta)
    {
        Pairs = rotaryDims / 2;
        _scale = MathF.Pow(theta, -2.0f / rotaryDims);
        _cos = [];
        _sin = [];
        EnsurePositions(positions);
    }

    /// <summary>Positions whose angles are computed.</summary>
    public int Positions { get; private set; }

    /// <summary>Computes the angles of positions up to <paramref name="positions"/> − 1 (each position's alone, so growing changes no value).</summary>
    public void EnsurePositions(int positions)
    {
        if (positions <= Positions) return;
        Array.Resize(ref _cos, checked(positions * Pairs));
        Array.Resize(ref _sin, checked(positions * Pairs));
        for (var pos = Positions; pos < positions; pos++)
        {
            float angle = pos;
            for (var i = 0; i < Pairs; i++)
            {
                _cos[pos * Pairs + i] = MathF.Cos(angle);
                _sin[pos * Pairs + i] = MathF.Sin(angle);
                angle *= _scale;
            }
        }
        Positions = positions;
    }

    public int Pairs { get; }

    public ReadOnlySpan<float> Cos(int position) => _cos.AsSpan(position * Pairs, Pairs);
    public ReadOnlySpan<float> Sin(int position) => _sin.AsSpan(position * Pairs, Pairs);

    /// <summary>Rotates adjacent pairs (x[2i], x[2i+1]) of each head in place (ggml's "normal" rope mode, used by LLaMA).</summary>
    public void Apply(Span<float> vector, int heads, int headDim, int position)
    {
        var cos = Cos(position);
        var sin = Sin(position);
        for (var h = 0; h < heads; h++)
        {
            var head = vector.Slice(h * headDim, headDim);
            for (var i = 0; i < cos.Length; i++)
            {
                var x0 = head[2 * i];
                var x1 = head[2 * i + 1];
                head[2 * i] = x0 * cos[i] - x1 * sin[i];
                head[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }
}
