namespace SpecializedInfer.Tokenization.PreTokenization;

/// <summary>
/// Collects the words a pre-tokenizer cuts a fragment into, as code point lengths, the way llama.cpp's
/// <c>_add_token</c> does: each cut ends the word that started at the previous cut; empty words are dropped.
/// </summary>
internal sealed class WordSplitter(List<int> lengths, int start)
{
    private int _previousEnd = start;

    /// <summary>Cuts at <paramref name="end"/> and returns the length of the word that ends there (0 if none).</summary>
    public int Cut(int end)
    {
        var length = end - _previousEnd;
        if (length > 0) lengths.Add(length);
        _previousEnd = end;
        return length;
    }
}
