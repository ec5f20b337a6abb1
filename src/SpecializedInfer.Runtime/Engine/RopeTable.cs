using SpecializedInfer.Planning;

namespace SpecializedInfer.Engine;

/// <summary>
/// Precomputed rotary cos/sin per position and frequency pair. Angles are built the way ggml builds them
/// (theta starts at the position and is multiplied by base^(-2/n_rot) once per pair, in float; a frequency factor,
/// when the model has them, divides each pair's angle), so the reference matches llama.cpp to the last bits rather
/// than to a closed form's rounding.
/// </summary>
public sealed class RopeTable
{
    private readonly float _scale;
    private readonly float[]? _factors;
    private float[] _cos;
    private float[] _sin;

    /// <param name="positions">positions computed now; <see cref="EnsurePositions"/> adds more as a session's context fills</param>
    /// <param name="rotaryDims">rotated dimensions per head (two per frequency pair)</param>
    /// <param name="theta">the rotary base</param>
    /// <param name="factors">Llama 3's frequency factors, one per pair (pair i turns by angle / factors[i]); null: none</param>
    /// <param name="style">which two dimensions of a head form pair i (<see cref="Apply"/> only; the angles do not depend on it)</param>
    public RopeTable(int positions, int rotaryDims, float theta, ReadOnlySpan<float> factors = default, RopeStyle style = RopeStyle.Adjacent)
    {
        Pairs = rotaryDims / 2;
        Style = style;
        if (!factors.IsEmpty)
        {
            if (factors.Length != Pairs)
                throw new ArgumentException($"The rotary embedding turns {Pairs} pairs, so it needs {Pairs} frequency factors, not {factors.Length}.", innerException: null);
            _factors = factors.ToArray();
        }
        _scale = MathF.Pow(theta, -2.0f / rotaryDims);
        _cos = [];
        _sin = [];
        EnsurePositions(positions);
    }

    /// <summary>The table of a loaded model: its rotary dimensions and base, its frequency factors if it has them, its architecture's pairing.</summary>
    public static RopeTable For(Models.LlamaWeights weights, int positions)
    {
        var c = weights.Config;
        return new RopeTable(positions, c.RotaryDims, c.RopeTheta, weights.RopeFrequencies is { } f ? f.Span : default, c.RopeStyle);
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
                var turned = _factors is null ? angle : angle / _factors[i];
                _cos[pos * Pairs + i] = MathF.Cos(turned);
                _sin[pos * Pairs + i] = MathF.Sin(turned);
                angle *= _scale;
            }
        }
        Positions = positions;
    }

    public int Pairs { get; }

    public RopeStyle Style { get; }

    public ReadOnlySpan<float> Cos(int position) => _cos.AsSpan(position * Pairs, Pairs);
    public ReadOnlySpan<float> Sin(int position) => _sin.AsSpan(position * Pairs, Pairs);

    /// <summary>
    /// Rotates pair i of each head in place: (x[2i], x[2i+1]) for <see cref="RopeStyle.Adjacent"/> (ggml's "normal"
    /// mode, LLaMA), (x[i], x[i + pairs]) for <see cref="RopeStyle.HalfSplit"/> (ggml's NeoX mode, Qwen2).
    /// </summary>
    public void Apply(Span<float> vector, int heads, int headDim, int position)
    {
        var cos = Cos(position);
        var sin = Sin(position);
        var (stride, second) = Style == RopeStyle.Adjacent ? (2, 1) : (1, Pairs);
        for (var h = 0; h < heads; h++)
        {
            var head = vector.Slice(h * headDim, headDim);
            for (var i = 0; i < cos.Length; i++)
            {
                var x0 = head[stride * i];
                var x1 = head[stride * i + second];
                head[stride * i] = x0 * cos[i] - x1 * sin[i];
                head[stride * i + second] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }
}
