using System.Text.RegularExpressions;

namespace SpecializedInfer.Tokenization.PreTokenization;

/// <summary>
/// Qwen2's pre-tokenizer regex
/// <c>(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>.
/// llama.cpp has no hand-written matcher for it: it runs <c>std::regex</c> (ECMAScript: leftmost match, first
/// alternative that succeeds, backtracking) over the "collapsed" text, one byte per code point
/// (<see cref="CodepointClass.Collapse"/>), with <c>\p{L}</c> and <c>\p{N}</c> rewritten as classes of those bytes and
/// <c>\s</c> the C locale's six spaces. This does the same with .NET's backtracking engine, whose alternation and
/// quantifiers mean what ECMAScript's do; the classes are spelt out so no engine's own idea of \s or \p{L} enters.
/// </summary>
internal static partial class Qwen2Split
{
    private const string Letter = "A-Za-z\u00D2";
    private const string Number = "0-9\u00D1";
    private const string Space = "\t\n\v\f\r ";

    private const string Pattern =
        "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])" +
        "|[^\r\n" + Letter + Number + "]?[" + Letter + "]+" +
        "|[" + Number + "]" +
        "| ?[^" + Space + Letter + Number + "]+[\r\n]*" +
        "|[" + Space + "]*[\r\n]+" +
        "|[" + Space + "]+(?![^" + Space + "])" +
        "|[" + Space + "]+";

    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex Words();

    /// <summary>Appends the word lengths of <paramref name="codepoints"/>[start..end) to <paramref name="words"/>.</summary>
    public static void Split(ReadOnlySpan<int> codepoints, int start, int end, List<int> words)
    {
        // One char per code point, so match offsets are code point offsets.
        var collapsed = new char[end - start];
        for (var i = start; i < end; i++) collapsed[i - start] = CodepointClass.Collapse(codepoints[i]);
        var previousEnd = 0;
        foreach (var match in Words().EnumerateMatches(collapsed))
        {
            // std::regex_iterator's unmatched stretches become words of their own.
            if (match.Index > previousEnd) words.Add(match.Index - previousEnd);
            words.Add(match.Length);
            previousEnd = match.Index + match.Length;
        }
        if (previousEnd < collapsed.Length) words.Add(collapsed.Length - previousEnd);
    }
}
