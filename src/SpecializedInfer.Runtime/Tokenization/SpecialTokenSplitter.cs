namespace SpecializedInfer.Tokenization;

/// <summary>
/// llama.cpp's <c>tokenizer_st_partition</c>: before any tokenizer runs, the text is cut around the special tokens it
/// contains. Each special token in turn (longest text first) cuts every remaining raw fragment at each of its
/// occurrences, left to right, so a longer token wins over a shorter one it contains.
/// </summary>
internal static class SpecialTokenSplitter
{
    /// <summary>
    /// Orders special tokens as llama.cpp's cache does: longest text first (by <paramref name="length"/>, its UTF-8
    /// byte count). llama.cpp's sort is unstable; equal lengths only conflict when they overlap, and go by id here.
    /// </summary>
    public static (int Id, string Text)[] Order(IEnumerable<int> ids, Func<int, string> text, Func<int, int> length) =>
        ids.OrderByDescending(length).ThenBy(i => i).Select(i => (i, text(i))).ToArray();

    /// <summary>
    /// Yields (start, length, -1) for raw text and (0, 0, id) for a matched token, in text order. The texts of
    /// <paramref name="specials"/> must be in the same representation as <paramref name="raw"/>.
    /// </summary>
    public static List<(int Start, int Length, int Token)> Partition(ReadOnlySpan<char> raw, IEnumerable<(int Id, string Text)> specials)
    {
        var fragments = new List<(int Start, int Length, int Token)>();
        if (raw.IsEmpty) return fragments;
        fragments.Add((0, raw.Length, -1));
        foreach (var (id, text) in specials)
        {
            var next = new List<(int Start, int Length, int Token)>(fragments.Count + 2);
            foreach (var fragment in fragments)
            {
                if (fragment.Token >= 0)
                {
                    next.Add(fragment);
                    continue;
                }
                var (start, end) = (fragment.Start, fragment.Start + fragment.Length);
                while (start < end)
                {
                    var match = raw[start..end].IndexOf(text, StringComparison.Ordinal);
                    if (match < 0) break;
                    if (match > 0) next.Add((start, match, -1));
                    next.Add((0, 0, id));
                    start += match + text.Length;
                }
                if (start < end) next.Add((start, end - start, -1));
            }
            fragments = next;
        }
        return fragments;
    }
}
