namespace SpecializedInfer.Tokenization.PreTokenization;

/// <summary>
/// The classes of one fragment's code points, looked up once. Outside the fragment every test is false, as llama.cpp's
/// <c>_get_flags</c> returns empty flags there (and <c>_get_cpt</c> an out-of-range marker).
/// </summary>
internal readonly ref struct CodepointFlags
{
    public const int OutOfRange = -1;

    private readonly ReadOnlySpan<int> _codepoints;
    private readonly int _start;
    private readonly int _end;

    public CodepointFlags(ReadOnlySpan<int> codepoints, int start, int end)
    {
        _codepoints = codepoints;
        _start = start;
        _end = end;
    }

    public int At(int pos) => pos >= _start && pos < _end ? _codepoints[pos] : OutOfRange;

    public bool InRange(int pos) => pos >= _start && pos < _end;

    public bool IsLetter(int pos) => InRange(pos) && CodepointClass.IsLetter(_codepoints[pos]);

    public bool IsNumber(int pos) => InRange(pos) && CodepointClass.IsNumber(_codepoints[pos]);

    public bool IsWhitespace(int pos) => InRange(pos) && CodepointClass.IsWhitespace(_codepoints[pos]);

    /// <summary>In range and neither whitespace, letter nor number: what <c>[^\s\p{L}\p{N}]</c> matches.</summary>
    public bool IsOther(int pos) => InRange(pos) && !IsWhitespace(pos) && !IsLetter(pos) && !IsNumber(pos);
}
