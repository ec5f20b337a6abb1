using System.Collections.Generic;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// One of the four code paths every kernel has: Vector512, Vector256, Vector128 (each taken only where the JIT
/// reports it hardware-accelerated, so the branches fold away) and scalar. Spells the path's operations.
/// </summary>
public sealed class VectorWidth
{
    public static readonly VectorWidth V512 = new(16, "Vector512");
    public static readonly VectorWidth V256 = new(8, "Vector256");
    public static readonly VectorWidth V128 = new(4, "Vector128");
    public static readonly VectorWidth Scalar = new(1, "");

    /// <summary>The vector paths, widest first.</summary>
    public static readonly VectorWidth[] Vectors = { V512, V256, V128 };

    private VectorWidth(int lanes, string api)
    {
        Lanes = lanes;
        Api = api;
    }

    public int Lanes { get; }
    public string Api { get; }
    public bool IsScalar => Lanes == 1;
    public string Type => IsScalar ? "float" : Api + "<float>";
    public string Zero => IsScalar ? "0f" : Type + ".Zero";
    public string Accelerated => Api + ".IsHardwareAccelerated";

    /// <summary>Registers this path can keep vectors in (32 zmm with AVX-512; 16 ymm/xmm otherwise), less room for accumulators and loads.</summary>
    public int ResidentLimit => Lanes == 16 ? 16 : 8;

    public string Load(string reference, string offset) =>
        IsScalar ? $"Unsafe.Add(ref {reference}, {offset})" : $"{Api}.LoadUnsafe(ref {reference}, {offset})";

    public string Store(string value, string reference, string offset) =>
        IsScalar ? $"Unsafe.Add(ref {reference}, {offset}) = {value};" : $"{Wrap(value)}.StoreUnsafe(ref {reference}, {offset});";

    private static string Wrap(string expression) =>
        System.Linq.Enumerable.All(expression, c => char.IsLetterOrDigit(c) || c == '_') ? expression : $"({expression})";

    /// <summary>a·b + c: fused on the Vector512 path (AVX-512 implies FMA); elsewhere fused where the hardware has FMA.</summary>
    public string MulAdd(string a, string b, string c) =>
        IsScalar ? $"{a} * {b} + {c}" : Lanes == 16 ? $"{Api}.FusedMultiplyAdd({a}, {b}, {c})" : $"{Api}.MultiplyAddEstimate({a}, {b}, {c})";

    public string Broadcast(string scalar) => IsScalar ? scalar : $"{Api}.Create({scalar})";

    public string Sum(string v) => IsScalar ? v : $"{Api}.Sum({v})";

    /// <summary>The next narrower vector path (V512 → V256 → V128 → scalar).</summary>
    public VectorWidth Narrower => Lanes switch { 16 => V256, 8 => V128, _ => Scalar };

    /// <summary>The widest path of at most this width whose vectors fit in <paramref name="length"/> floats.</summary>
    public VectorWidth FitTo(int length)
    {
        var w = this;
        while (!w.IsScalar && w.Lanes > length) w = w.Narrower;
        return w;
    }

    /// <summary>
    /// Splits <paramref name="length"/> floats for this path: <c>Main</c> whole vectors of this width, then exact tails
    /// of narrower vectors and finally scalars (e.g. 172 on Vector512: 10×16, one Vector256 at 160, one Vector128 at 168).
    /// </summary>
    public (int Main, List<(int Offset, VectorWidth Width)> Tails) Split(int length)
    {
        var main = IsScalar ? length : length / Lanes;
        var tails = new List<(int, VectorWidth)>();
        var offset = main * Lanes;
        var w = Narrower;
        while (offset < length)
        {
            if (w.Lanes <= length - offset)
            {
                tails.Add((offset, w));
                offset += w.Lanes;
            }
            if (!w.IsScalar) w = w.Narrower; // a second tail of the same width cannot fit: it would have been a main vector
        }
        return (main, tails);
    }
}
