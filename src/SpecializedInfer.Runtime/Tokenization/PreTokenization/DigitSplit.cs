namespace SpecializedInfer.Tokenization.PreTokenization;

/// <summary>
/// The regex <c>\p{N}</c> as llama.cpp's <c>std::regex</c> pass applies it ahead of another pre-tokenizer
/// (StarCoder, SmolLM): every number code point becomes a piece of its own, and each stretch between them one piece.
/// </summary>
internal static class DigitSplit
{
    /// <summary>Appends (start, end) of every piece of [start..end) to <paramref name="pieces"/>, in order.</summary>
    public static void Split(ReadOnlySpan<int> codepoints, int start, int end, List<(int Start, int End)> pieces)
    {
        var pieceStart = start;
        for (var i = start; i < end; i++)
        {
            if (!CodepointClass.IsNumber(codepoints[i])) continue;
            if (i > pieceStart) pieces.Add((pieceStart, i));
            pieces.Add((i, i + 1));
            pieceStart = i + 1;
        }
        if (pieceStart < end) pieces.Add((pieceStart, end));
    }
}
