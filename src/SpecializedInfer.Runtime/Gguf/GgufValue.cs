using System.Globalization;

namespace SpecializedInfer.Gguf;

/// <summary>
/// One metadata value. Scalars are boxed primitives; arrays are typed .NET arrays (string[] for strings,
/// GgufValue[] for arrays of arrays), so callers pattern-match instead of decoding bytes.
/// </summary>
public sealed record GgufValue(GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8)
{
    /// <summary>Byte offset of the value in its file (0 for values built in memory), for error messages.</summary>
    public long Offset { get; init; }

    public static GgufValue Of(string value) => new(GgufValueType.String, value);
    public static GgufValue Of(uint value) => new(GgufValueType.UInt32, value);
    public static GgufValue Of(int value) => new(GgufValueType.Int32, value);
    public static GgufValue Of(float value) => new(GgufValueType.Float32, value);
    public static GgufValue Of(bool value) => new(GgufValueType.Bool, value);
    public static GgufValue Of(ulong value) => new(GgufValueType.UInt64, value);
    public static GgufValue Of(string[] values) => new(GgufValueType.Array, values, GgufValueType.String);
    public static GgufValue Of(float[] values) => new(GgufValueType.Array, values, GgufValueType.Float32);
    public static GgufValue Of(int[] values) => new(GgufValueType.Array, values, GgufValueType.Int32);

    /// <summary>True for any integer type (signed or not) and for bool; the value widened to long.</summary>
    public bool TryGetInteger(out long value)
    {
        switch (Value)
        {
            case byte v: value = v; return true;
            case sbyte v: value = v; return true;
            case ushort v: value = v; return true;
            case short v: value = v; return true;
            case uint v: value = v; return true;
            case int v: value = v; return true;
            case ulong v when v <= long.MaxValue: value = (long)v; return true;
            case long v: value = v; return true;
            default: value = 0; return false;
        }
    }

    /// <summary>True for float, double and integer values.</summary>
    public bool TryGetNumber(out double value)
    {
        switch (Value)
        {
            case float f: value = f; return true;
            case double d: value = d; return true;
            default:
                var ok = TryGetInteger(out var l);
                value = l;
                return ok;
        }
    }

    public override string ToString() => Value switch
    {
        string s => s,
        string[] a => $"[{a.Length} strings]",
        Array a => $"[{a.Length} {ElementType}]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => Value.ToString() ?? "",
    };
}
