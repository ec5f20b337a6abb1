using System;

namespace SpecializedInfer.Planning;

/// <summary>
/// A span of a text file: character offset and length, plus 0-based line and column of its start and end (the
/// form Roslyn's LinePositionSpan takes). Equatable, so it can live in incremental-generator models.
/// </summary>
public readonly record struct TextRange(int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn)
{
    public static readonly TextRange Empty = new(0, 0, 0, 0, 0, 0);

    /// <summary>"line:column", 1-based, as editors show it.</summary>
    public override string ToString() => $"{StartLine + 1}:{StartColumn + 1}";
}

/// <summary>Maps character offsets of one text to line/column positions.</summary>
public sealed class LineMap
{
    private readonly int[] _lineStarts;

    public LineMap(string text)
    {
        var starts = new System.Collections.Generic.List<int> { 0 };
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\r')
            {
                if (i + 1 < text.Length && text[i + 1] == '\n') i++;
                starts.Add(i + 1);
            }
            else if (text[i] == '\n') starts.Add(i + 1);
        }
        _lineStarts = starts.ToArray();
    }

    public (int Line, int Column) Position(int offset)
    {
        var line = Array.BinarySearch(_lineStarts, offset);
        if (line < 0) line = ~line - 1;
        return (line, offset - _lineStarts[line]);
    }

    public TextRange Range(int start, int length)
    {
        var (sl, sc) = Position(start);
        var (el, ec) = Position(start + length);
        return new TextRange(start, length, sl, sc, el, ec);
    }
}
