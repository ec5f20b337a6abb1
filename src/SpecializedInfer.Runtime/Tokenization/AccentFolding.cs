using System.Globalization;
using System.Text;

namespace SpecializedInfer.Tokenization;

/// <summary>
/// BERT's accent stripping: canonical decomposition (NFD) then dropping non-spacing marks (category Mn). Done from
/// a generated table (<c>tools/generate-accent-folding.py</c>) rather than <see cref="string.Normalize()"/>, which
/// needs ICU and leaves text unchanged under invariant globalization (this repository's setting, and NativeAOT apps').
/// </summary>
internal static partial class AccentFolding
{
    private const int HangulBase = 0xAC00, HangulCount = 11172, LeadBase = 0x1100, VowelBase = 0x1161, TrailBase = 0x11A7;
    private const int VowelCount = 21, TrailCount = 28;

    /// <summary>Appends <paramref name="rune"/> decomposed with its non-spacing marks removed.</summary>
    public static void Append(StringBuilder output, Rune rune)
    {
        if (Rune.GetUnicodeCategory(rune) == UnicodeCategory.NonSpacingMark) return;
        var cp = rune.Value;
        if (cp < 0xC0) { output.Append(rune.ToString()); return; }
        if ((uint)(cp - HangulBase) < HangulCount)
        {
            // Unicode's algorithmic Hangul decomposition: lead, vowel and (optional) trailing jamo, none of them Mn.
            var s = cp - HangulBase;
            output.Append((char)(LeadBase + s / (VowelCount * TrailCount)));
            output.Append((char)(VowelBase + s % (VowelCount * TrailCount) / TrailCount));
            if (s % TrailCount != 0) output.Append((char)(TrailBase + s % TrailCount));
            return;
        }
        var i = Array.BinarySearch(FoldedCodePoints, cp);
        if (i >= 0) output.Append(Folded[i]);
        else output.Append(rune.ToString());
    }
}
