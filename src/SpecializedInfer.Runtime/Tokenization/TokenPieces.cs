using System.Buffers;
using System.Text;

namespace SpecializedInfer.Tokenization;

/// <summary>
/// Every token's piece (<c>llama_token_to_piece</c> with special = false) packed into one array, so rendering a
/// token slices and decoding a sequence copies.
/// </summary>
internal sealed class TokenPieces
{
    private readonly byte[] _bytes;
    private readonly int[] _start;

    /// <param name="count">The vocabulary size.</param>
    /// <param name="append">Appends token i's piece to the list.</param>
    public TokenPieces(int count, Action<int, List<byte>> append)
    {
        _start = new int[count + 1];
        var bytes = new List<byte>(count * 4);
        for (var i = 0; i < count; i++)
        {
            _start[i] = bytes.Count;
            append(i, bytes);
        }
        _start[count] = bytes.Count;
        _bytes = bytes.ToArray();
    }

    public ReadOnlySpan<byte> this[int id] => _bytes.AsSpan(_start[id], _start[id + 1] - _start[id]);

    /// <summary>
    /// The pieces of <paramref name="tokens"/> (checked ids), one leading space of the first dropped when
    /// <paramref name="stripFirstSpace"/>, handed to <paramref name="finish"/> (which may rewrite them in place and
    /// returns the length to keep), then UTF-8 decoded with U+FFFD for invalid bytes.
    /// </summary>
    public string Decode(ReadOnlySpan<int> tokens, int vocabSize, bool stripFirstSpace, SpanLength? finish = null)
    {
        var total = 0;
        foreach (var id in tokens)
        {
            GgufVocabulary.CheckToken(id, vocabSize);
            total += _start[id + 1] - _start[id];
        }
        if (total == 0) return "";
        var rented = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            var length = 0;
            for (var i = 0; i < tokens.Length; i++)
            {
                var piece = this[tokens[i]];
                // Only the very first token counts, even when it renders empty: after a BOS the next keeps its space.
                if (i == 0 && stripFirstSpace && piece.Length > 0 && piece[0] == (byte)' ') piece = piece[1..];
                piece.CopyTo(rented.AsSpan(length));
                length += piece.Length;
            }
            if (finish is not null) length = finish(rented.AsSpan(0, length));
            return Encoding.UTF8.GetString(rented, 0, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Rewrites bytes in place and returns how many to keep.</summary>
    public delegate int SpanLength(Span<byte> bytes);
}
