namespace SpecializedInfer.Tokenization.PreTokenization;

/// <summary>
/// GPT-2's pre-tokenizer regex <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)</c> as
/// llama.cpp runs it: its hand-written matcher (<c>unicode_regex_split_custom_gpt2</c>), followed step by step,
/// including what it does where the regex would differ (a lone trailing whitespace run is one word).
/// </summary>
internal static class Gpt2Split
{
    /// <summary>Appends the word lengths of <paramref name="codepoints"/>[start..end) to <paramref name="words"/>.</summary>
    public static void Split(ReadOnlySpan<int> codepoints, int start, int end, List<int> words)
    {
        var f = new CodepointFlags(codepoints, start, end);
        var cut = new WordSplitter(words, start);
        for (var pos = start; pos < end;)
        {
            var cpt = f.At(pos);

            // 's|'t|'re|'ve|'m|'ll|'d (lower case only)
            if (cpt == '\'' && pos + 1 < end)
            {
                var next = f.At(pos + 1);
                if (next is 's' or 't' or 'm' or 'd')
                {
                    pos += cut.Cut(pos + 2);
                    continue;
                }
                if (pos + 2 < end)
                {
                    var nextNext = f.At(pos + 2);
                    if ((next == 'r' && nextNext == 'e') || (next == 'v' && nextNext == 'e') || (next == 'l' && nextNext == 'l'))
                    {
                        pos += cut.Cut(pos + 3);
                        continue;
                    }
                }
            }

            // The class tests below look past an optional leading space.
            var at = cpt == ' ' ? pos + 1 : pos;
            if (f.IsLetter(at)) // ' ?\p{L}+'
            {
                pos = at;
                while (f.IsLetter(pos)) pos++;
                cut.Cut(pos);
                continue;
            }
            if (f.IsNumber(at)) // ' ?\p{N}+'
            {
                pos = at;
                while (f.IsNumber(pos)) pos++;
                cut.Cut(pos);
                continue;
            }
            if (f.IsOther(at)) // ' ?[^\s\p{L}\p{N}]+'
            {
                pos = at;
                while (f.IsOther(pos)) pos++;
                cut.Cut(pos);
                continue;
            }

            var whitespace = 0;
            while (f.IsWhitespace(pos + whitespace)) whitespace++;
            if (whitespace > 1 && f.InRange(pos + whitespace)) // '\s+(?!\S)': leave the last one to the next word
            {
                pos += whitespace - 1;
                cut.Cut(pos);
                continue;
            }
            if (whitespace > 0) // '\s+'
            {
                pos += whitespace;
                cut.Cut(pos);
                continue;
            }

            cut.Cut(++pos); // no match: one code point on its own
        }
    }
}
