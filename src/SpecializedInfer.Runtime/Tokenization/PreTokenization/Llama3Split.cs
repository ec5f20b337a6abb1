namespace SpecializedInfer.Tokenization.PreTokenization;

/// <summary>
/// Llama 3's pre-tokenizer regex
/// <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>
/// as llama.cpp runs it: its hand-written matcher (<c>unicode_regex_split_custom_llama3</c>), followed step by step.
/// </summary>
internal static class Llama3Split
{
    /// <summary>Appends the word lengths of <paramref name="codepoints"/>[start..end) to <paramref name="words"/>.</summary>
    public static void Split(ReadOnlySpan<int> codepoints, int start, int end, List<int> words)
    {
        var f = new CodepointFlags(codepoints, start, end);
        var cut = new WordSplitter(words, start);
        for (var pos = start; pos < end;)
        {
            var cpt = f.At(pos);

            // (?i:'s|'t|'re|'ve|'m|'ll|'d). llama.cpp lowercases with its full table, but no other letter lowercases to
            // one of these ASCII letters, so ASCII folding decides the same.
            if (cpt == '\'' && pos + 1 < end)
            {
                var next = AsciiLower(f.At(pos + 1));
                if (next is 's' or 't' or 'm' or 'd')
                {
                    pos += cut.Cut(pos + 2);
                    continue;
                }
                if (pos + 2 < end)
                {
                    var nextNext = AsciiLower(f.At(pos + 2));
                    if ((next == 'r' && nextNext == 'e') || (next == 'v' && nextNext == 'e') || (next == 'l' && nextNext == 'l'))
                    {
                        pos += cut.Cut(pos + 3);
                        continue;
                    }
                }
            }

            // [^\r\n\p{L}\p{N}]?\p{L}+
            if (!(cpt == '\r' || cpt == '\n' || f.IsNumber(pos)) && (f.IsLetter(pos) || f.IsLetter(pos + 1)))
            {
                pos++;
                while (f.IsLetter(pos)) pos++;
                cut.Cut(pos);
                continue;
            }

            // \p{N}{1,3}
            if (f.IsNumber(pos))
            {
                var first = pos;
                while (f.IsNumber(pos))
                {
                    if (++pos - first >= 3)
                    {
                        cut.Cut(pos);
                        first = pos;
                    }
                }
                cut.Cut(pos);
                continue;
            }

            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'. llama.cpp tests the class of the code point after a space but the presence of
            // the current one, so a space at the end of the fragment is a word on its own here.
            var at = cpt == ' ' ? pos + 1 : pos;
            if (f.IsOther(at) || (cpt == ' ' && !f.InRange(at)))
            {
                pos = at;
                while (f.IsOther(pos)) pos++;
                while (f.At(pos) is '\r' or '\n') pos++;
                cut.Cut(pos);
                continue;
            }

            var whitespace = 0;
            var lastLineEnd = 0;
            while (f.IsWhitespace(pos + whitespace))
            {
                if (f.At(pos + whitespace) is '\r' or '\n') lastLineEnd = pos + whitespace + 1;
                whitespace++;
            }
            if (lastLineEnd > 0) // \s*[\r\n]+
            {
                pos = lastLineEnd;
                cut.Cut(pos);
                continue;
            }
            if (whitespace > 1 && f.InRange(pos + whitespace)) // \s+(?!\S)
            {
                pos += whitespace - 1;
                cut.Cut(pos);
                continue;
            }
            if (whitespace > 0) // \s+
            {
                pos += whitespace;
                cut.Cut(pos);
                continue;
            }

            cut.Cut(++pos); // no match: one code point on its own
        }
    }

    private static int AsciiLower(int cp) => cp is >= 'A' and <= 'Z' ? cp + 32 : cp;
}
