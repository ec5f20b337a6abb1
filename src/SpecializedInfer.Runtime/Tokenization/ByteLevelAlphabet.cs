namespace SpecializedInfer.Tokenization;

/// <summary>
/// GPT-2's reversible byte-to-character map (<c>bytes_to_unicode</c>, llama.cpp's <c>unicode_byte_to_utf8_map</c>):
/// the printable bytes '!'..'~', '¡'..'¬' and '®'..'ÿ' stand for themselves; the other 68 bytes (controls, space,
/// 0x7F-0xA0, the soft hyphen) take U+0100 onwards in byte order. Byte-level BPE vocabularies spell every token in
/// these characters, so a space is "Ġ" and a newline "Ċ".
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    /// <summary>The character that spells <paramref name="b"/>.</summary>
    public static char Char(byte b) => ByteToChar[b];

    /// <summary>The byte a character spells, or null for a character outside the alphabet.</summary>
    public static byte? Byte(int codepoint) =>
        codepoint <= char.MaxValue && CharToByte.TryGetValue((char)codepoint, out var b) ? b : null;

    /// <summary>UTF-8 bytes spelt in the alphabet, one character per byte.</summary>
    public static string Spell(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (chars, source) =>
        {
            for (var i = 0; i < source.Length; i++) chars[i] = ByteToChar[source[i]];
        });
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var assigned = new bool[256];
        foreach (var (first, last) in new[] { (0x21, 0x7E), (0xA1, 0xAC), (0xAE, 0xFF) })
        {
            for (var b = first; b <= last; b++)
            {
                map[b] = (char)b;
                assigned[b] = true;
            }
        }
        var next = 0;
        for (var b = 0; b < 256; b++)
            if (!assigned[b]) map[b] = (char)(256 + next++);
        return map;
    }
}
