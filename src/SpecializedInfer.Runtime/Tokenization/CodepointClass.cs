using System.Globalization;

namespace SpecializedInfer.Tokenization;

/// <summary>
/// The code point classes llama.cpp's pre-tokenizers test (<c>unicode_cpt_flags</c>): its table maps each Unicode
/// general category to one class (letters L*, numbers N*, marks M*, punctuation P*, symbols S*, separators Z*, and
/// "control" for Cc/Cf/Co/Cs; unassigned code points are "undefined"), and whitespace is its own fixed set (Unicode's
/// White_Space property). Categories come from .NET's tables, so a character added in a Unicode version newer than
/// llama.cpp's generated table may be classed differently there; every character of an older version agrees.
/// </summary>
internal static class CodepointClass
{
    public static bool IsLetter(int cp) => Category(cp) is >= UnicodeCategory.UppercaseLetter and <= UnicodeCategory.OtherLetter;

    public static bool IsNumber(int cp) => Category(cp) is >= UnicodeCategory.DecimalDigitNumber and <= UnicodeCategory.OtherNumber;

    /// <summary>llama.cpp's whitespace set (unicode_set_whitespace).</summary>
    public static bool IsWhitespace(int cp) => cp switch
    {
        >= 0x09 and <= 0x0D or 0x20 or 0x85 or 0xA0 or 0x1680 or >= 0x2000 and <= 0x200A or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        _ => false,
    };

    /// <summary>
    /// The one byte llama.cpp's <c>unicode_regex_split</c> puts in place of a code point before running a
    /// <c>std::regex</c> over the "collapsed" text: ASCII stays itself; other whitespace becomes a vertical tab (which
    /// <c>\s</c> matches); other letters 0xD2, numbers 0xD1, punctuation 0xD3, marks 0xD4, symbols 0xD5, and everything
    /// else (separators that are not whitespace, control, unassigned) 0xD0.
    /// </summary>
    public static char Collapse(int cp)
    {
        if (cp < 128) return (char)cp;
        if (IsWhitespace(cp)) return '\v';
        return Category(cp) switch
        {
            >= UnicodeCategory.DecimalDigitNumber and <= UnicodeCategory.OtherNumber => '\u00D1',
            >= UnicodeCategory.UppercaseLetter and <= UnicodeCategory.OtherLetter => '\u00D2',
            >= UnicodeCategory.ConnectorPunctuation and <= UnicodeCategory.OtherPunctuation => '\u00D3',
            >= UnicodeCategory.NonSpacingMark and <= UnicodeCategory.EnclosingMark => '\u00D4',
            >= UnicodeCategory.MathSymbol and <= UnicodeCategory.OtherSymbol => '\u00D5',
            _ => '\u00D0',
        };
    }

    private static UnicodeCategory Category(int cp) =>
        cp < 0x110000 ? CharUnicodeInfo.GetUnicodeCategory(cp) : UnicodeCategory.OtherNotAssigned;
}
