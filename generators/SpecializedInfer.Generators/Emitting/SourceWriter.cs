using System;
using System.Collections.Generic;
using System.Text;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// Builds indented C# text with '\n' line ends, whatever the host OS, so output is byte-for-byte deterministic.
/// Blocks are scopes: <c>using (writer.Block("if (x)")) { ... }</c> writes the header, "{", the body one level in,
/// and "}" when disposed, so an emit function cannot leave a brace open.
/// </summary>
public sealed class SourceWriter
{
    private readonly StringBuilder _sb = new();
    private int _indent;

    public SourceWriter Line(string text = "")
    {
        if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(text);
        _sb.Append('\n');
        return this;
    }

    /// <summary>Writes several lines (split on '\n') at the current indentation.</summary>
    public SourceWriter Lines(string text)
    {
        foreach (var line in text.Replace("\r\n", "\n").Split('\n')) Line(line);
        return this;
    }

    /// <summary>
    /// A block: <paramref name="header"/> (none for a bare block), "{", one more level of indentation; disposing the
    /// scope writes <paramref name="closing"/> ("};" after an initializer, "})," inside an argument list).
    /// </summary>
    public Scope Block(string? header = null, string closing = "}")
    {
        if (header is not null) Line(header);
        Line("{");
        _indent++;
        return new Scope(this, 1, closing);
    }

    /// <summary>Nested blocks, one per header (a namespace and the types around a partial class); disposing closes them all.</summary>
    public Scope Blocks(IEnumerable<string> headers)
    {
        var count = 0;
        foreach (var header in headers)
        {
            Block(header);
            count++;
        }
        return new Scope(this, count, "}");
    }

    /// <summary>One more level of indentation without braces: the continuation lines of an expression.</summary>
    public Scope Indent()
    {
        _indent++;
        return new Scope(this, 1, closing: null);
    }

    /// <summary>Closes what <see cref="Block"/>, <see cref="Blocks"/> or <see cref="Indent"/> opened; the default scope closes nothing.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly SourceWriter? _writer;
        private readonly int _levels;
        private readonly string? _closing;

        internal Scope(SourceWriter writer, int levels, string? closing)
        {
            _writer = writer;
            _levels = levels;
            _closing = closing;
        }

        public void Dispose()
        {
            if (_writer is null) return;
            for (var i = 0; i < _levels; i++)
            {
                _writer._indent--;
                if (_closing is not null) _writer.Line(_closing);
            }
        }
    }

    public override string ToString() => _sb.ToString();
}
