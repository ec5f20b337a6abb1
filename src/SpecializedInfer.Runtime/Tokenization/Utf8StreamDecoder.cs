using System.Text;

namespace SpecializedInfer.Tokenization;

/// <summary>
/// Turns a stream of byte pieces (one per generated token) into text. A character may span several byte tokens
/// (an emoji is often four <c>&lt;0xNN&gt;</c> tokens), so a trailing sequence that is still a valid beginning of a
/// character is held back until the bytes that complete it arrive. Bytes that can no longer become a valid character
/// are emitted as U+FFFD at once (one per maximal invalid subpart, as the Unicode standard recommends), so output is
/// never delayed by garbage; only <see cref="Flush"/> turns a held-back incomplete sequence into U+FFFD.
/// Concatenating every <see cref="Push"/> and the final <see cref="Flush"/> gives exactly
/// <c>Encoding.UTF8.GetString</c> of all the bytes. Not thread-safe: one instance per stream.
/// </summary>
public sealed class Utf8StreamDecoder
{
    // The BCL decoder does exactly this: with flush = false it keeps an incomplete but valid prefix (at most three
    // bytes) as state, and replaces a sequence the moment a byte proves it invalid (E0 80, or ED A0 which would be a
    // surrogate, or F4 90 beyond U+10FFFF). UTF8Encoding's default fallback replaces rather than throws.
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];

    /// <summary>Adds bytes and returns whatever text they complete (possibly empty).</summary>
    public string Push(ReadOnlySpan<byte> bytes) => bytes.IsEmpty ? "" : Convert(bytes, flush: false);

    /// <summary>Ends the stream: an incomplete trailing sequence becomes U+FFFD. The decoder is then ready for a new stream.</summary>
    public string Flush() => Convert([], flush: true);

    /// <summary>Drops any held-back bytes without emitting them.</summary>
    public void Reset() => _decoder.Reset();

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        // GetCharCount reads the held-back state without changing it, so the buffer always fits in one call.
        var needed = _decoder.GetCharCount(bytes, flush);
        if (_chars.Length < needed) _chars = new char[Math.Max(needed, _chars.Length * 2)];
        _decoder.Convert(bytes, _chars, flush, out _, out var charsUsed, out _);
        return charsUsed == 0 ? "" : new string(_chars, 0, charsUsed);
    }
}
