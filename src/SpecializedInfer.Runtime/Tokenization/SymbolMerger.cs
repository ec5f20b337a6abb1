namespace SpecializedInfer.Tokenization;

/// <summary>
/// The merge loop llama.cpp's SentencePiece and BPE sessions share: adjacent symbols of a text, chained as a doubly
/// linked list, are merged pair by pair in priority order (a priority queue of candidate pairs; after each merge the
/// new symbol's pairs with its neighbours are queued), until no candidate pair is left. The tokenizers differ only in
/// which pairs are candidates and in what order they merge.
/// </summary>
internal static class SymbolMerger
{
    /// <summary>Whether the pair spanning [start, start + length), its left symbol <paramref name="leftLength"/> long,
    /// may merge, and with what priority.</summary>
    public delegate bool PairPriority<TPriority>(int start, int length, int leftLength, out TPriority priority);

    /// <summary>
    /// Merges the symbols of a text given as consecutive lengths and returns the final symbols as (start, length), in
    /// text order. <paramref name="order"/> puts first the pair that merges first; it sees the priority and the left
    /// symbol's index (llama.cpp's tie-break: the leftmost pair).
    /// </summary>
    public static List<(int Start, int Length)> Merge<TPriority>(IReadOnlyList<int> symbolLengths, PairPriority<TPriority> priority,
        IComparer<(TPriority Priority, int Left)> order)
    {
        var count = symbolLengths.Count;
        var start = new int[count];
        var length = new int[count];
        var prev = new int[count];
        var next = new int[count];
        for (int i = 0, offset = 0; i < count; offset += symbolLengths[i], i++)
        {
            start[i] = offset;
            length[i] = symbolLengths[i];
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }

        var queue = new PriorityQueue<(int Left, int Right, int Size), (TPriority, int)>(order);
        void TryAddPair(int left, int right)
        {
            if (left < 0 || right < 0) return;
            // Neighbours are always adjacent in the text, so the pair is one contiguous range.
            if (priority(start[left], length[left] + length[right], length[left], out var p))
                queue.Enqueue((left, right, length[left] + length[right]), (p, left));
        }

        for (var i = 1; i < count; i++) TryAddPair(i - 1, i);
        while (queue.TryDequeue(out var pair, out _))
        {
            var (left, right, size) = pair;
            // A pair is stale once either side was merged away or grew: lengths only grow, so an unchanged total means
            // both sides are as they were when the pair was queued (llama.cpp's BPE session compares the texts).
            if (length[left] == 0 || length[right] == 0 || length[left] + length[right] != size) continue;
            length[left] = size;
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            TryAddPair(prev[left], left);
            TryAddPair(left, next[left]);
        }

        var symbols = new List<(int Start, int Length)>();
        for (var i = count > 0 ? 0 : -1; i != -1; i = next[i]) symbols.Add((start[i], length[i]));
        return symbols;
    }
}
