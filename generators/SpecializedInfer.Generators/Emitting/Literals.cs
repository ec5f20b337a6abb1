using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis.CSharp;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>C# literals in the invariant culture: floats round-trip ("R") with an 'f', strings escaped by Roslyn.</summary>
public static class Literals
{
    public static string Float(float f)
    {
        if (float.IsNaN(f)) return "float.NaN";
        if (float.IsPositiveInfinity(f)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(f)) return "float.NegativeInfinity";
        return f.ToString("R", CultureInfo.InvariantCulture) + "f";
    }

    public static string Double(double d)
    {
        if (double.IsNaN(d)) return "double.NaN";
        if (double.IsPositiveInfinity(d)) return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(d)) return "double.NegativeInfinity";
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.IndexOfAny(new[] { '.', 'E', 'e' }) < 0 ? s + "D" : s;
    }

    public static string Int(long i) => i.ToString(CultureInfo.InvariantCulture);

    public static string String(string s) => SymbolDisplay.FormatLiteral(s, quote: true);

    public static string Bool(bool b) => b ? "true" : "false";

    /// <summary>Text for a /// documentation comment: <see cref="Comment"/>, with the XML characters escaped.</summary>
    public static string Xml(string s) => Comment(s).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    /// <summary>Text for a // or /// comment: every character C# takes for a line break becomes a space.</summary>
    public static string Comment(string s)
    {
        var chars = s.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
            if (chars[i] is '\r' or '\n' or '\u0085' or '\u2028' or '\u2029') chars[i] = ' ';
        return new string(chars);
    }

    /// <summary>"Step 3 runs" / "Steps 1, 3 run": a noun, its numbers and a verb agreeing with how many there are.</summary>
    public static string Numbered(string noun, IEnumerable<int> numbers, string verb, string pluralVerb)
    {
        var list = numbers.ToList();
        return list.Count == 1 ? $"{noun} {list[0]} {verb}" : $"{noun}s {string.Join(", ", list)} {pluralVerb}";
    }
}
