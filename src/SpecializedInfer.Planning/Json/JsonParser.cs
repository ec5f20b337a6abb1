using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace SpecializedInfer.Planning.Json;

/// <summary>A JSON syntax error with its position.</summary>
public sealed class JsonSyntaxError
{
    public JsonSyntaxError(string message, TextRange range)
    {
        Message = message;
        Range = range;
    }

    public string Message { get; }
    public TextRange Range { get; }
}

/// <summary>
/// A small strict JSON parser (RFC 8259, plus // and /* */ comments, which hand-edited plans want) that keeps
/// positions. It never throws: malformed text yields a <see cref="JsonSyntaxError"/> at the first problem.
/// Nesting is capped so hostile input cannot exhaust the stack of the compiler hosting the generator.
/// </summary>
public sealed class JsonParser
{
    private const int MaxDepth = 64;
    private readonly string _text;
    private readonly LineMap _lines;
    private int _pos;

    private JsonParser(string text)
    {
        _text = text;
        _lines = new LineMap(text);
    }

    public static JsonNode? Parse(string text, out JsonSyntaxError? error)
    {
        var parser = new JsonParser(text);
        try
        {
            parser.SkipTrivia();
            var value = parser.ParseValue(0);
            parser.SkipTrivia();
            if (parser._pos < text.Length) throw parser.Fail("the end of the document after the top-level value");
            error = null;
            return value;
        }
        catch (ParseFailure f)
        {
            error = f.Error;
            return null;
        }
    }

    private sealed class ParseFailure : System.Exception
    {
        public ParseFailure(JsonSyntaxError error) => Error = error;
        public JsonSyntaxError Error { get; }
    }

    private ParseFailure Fail(string expected, int? at = null)
    {
        var p = at ?? _pos;
        var found = p >= _text.Length ? "the end of the file" : $"'{Printable(_text[p])}'";
        return new ParseFailure(new JsonSyntaxError($"expected {expected}, found {found}", _lines.Range(p, p < _text.Length ? 1 : 0)));
    }

    private static string Printable(char c) => c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => c < ' ' ? $"\\u{(int)c:X4}" : c.ToString() };

    private JsonNode ParseValue(int depth)
    {
        if (depth > MaxDepth) throw Fail($"at most {MaxDepth} levels of nesting");
        if (_pos >= _text.Length) throw Fail("a value");
        var c = _text[_pos];
        switch (c)
        {
            case '{': return ParseObject(depth);
            case '[': return ParseArray(depth);
            case '"':
                var start = _pos;
                var s = ParseString();
                return new JsonString(_lines.Range(start, _pos - start), s);
            case 't': return ParseLiteral("true", JsonKind.True);
            case 'f': return ParseLiteral("false", JsonKind.False);
            case 'n': return ParseLiteral("null", JsonKind.Null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber();
                throw Fail("a value (object, array, string, number, true, false or null)");
        }
    }

    private JsonNode ParseLiteral(string word, JsonKind kind)
    {
        var start = _pos;
        if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) != 0) throw Fail($"'{word}'");
        _pos += word.Length;
        return new JsonLiteral(kind, _lines.Range(start, word.Length));
    }

    private JsonObject ParseObject(int depth)
    {
        var start = _pos++;
        var props = new List<JsonProperty>();
        SkipTrivia();
        if (Peek() == '}') { _pos++; return new JsonObject(_lines.Range(start, _pos - start), props); }
        while (true)
        {
            SkipTrivia();
            if (Peek() != '"') throw Fail("a property name in double quotes");
            var nameStart = _pos;
            var name = ParseString();
            var nameRange = _lines.Range(nameStart, _pos - nameStart);
            SkipTrivia();
            if (Peek() != ':') throw Fail("':' after the property name");
            _pos++;
            SkipTrivia();
            props.Add(new JsonProperty(name, nameRange, ParseValue(depth + 1)));
            SkipTrivia();
            var c = Peek();
            if (c == ',') { _pos++; continue; }
            if (c == '}') { _pos++; return new JsonObject(_lines.Range(start, _pos - start), props); }
            throw Fail("',' or '}' in an object");
        }
    }

    private JsonArray ParseArray(int depth)
    {
        var start = _pos++;
        var items = new List<JsonNode>();
        SkipTrivia();
        if (Peek() == ']') { _pos++; return new JsonArray(_lines.Range(start, _pos - start), items); }
        while (true)
        {
            SkipTrivia();
            items.Add(ParseValue(depth + 1));
            SkipTrivia();
            var c = Peek();
            if (c == ',') { _pos++; continue; }
            if (c == ']') { _pos++; return new JsonArray(_lines.Range(start, _pos - start), items); }
            throw Fail("',' or ']' in an array");
        }
    }

    private string ParseString()
    {
        _pos++; // opening quote
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length) throw Fail("a closing '\"'");
            var c = _text[_pos];
            if (c == '"') { _pos++; return sb.ToString(); }
            if (c < ' ') throw Fail("an escaped control character (\\n, \\t, \\u00XX) inside a string");
            if (c != '\\') { sb.Append(c); _pos++; continue; }
            _pos++;
            if (_pos >= _text.Length) throw Fail("an escape character after '\\'");
            var e = _text[_pos++];
            switch (e)
            {
                case '"': sb.Append('"'); break;
                case '\\': sb.Append('\\'); break;
                case '/': sb.Append('/'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'u':
                    if (_pos + 4 > _text.Length || !int.TryParse(_text.Substring(_pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                        throw Fail("four hex digits after '\\u'");
                    sb.Append((char)code);
                    _pos += 4;
                    break;
                default: throw Fail("a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", _pos - 1);
            }
        }
    }

    private JsonNumber ParseNumber()
    {
        var start = _pos;
        if (Peek() == '-') _pos++;
        if (Peek() == '0') _pos++;
        else if (IsDigit(Peek())) while (IsDigit(Peek())) _pos++;
        else throw Fail("a digit");
        if (Peek() == '.')
        {
            _pos++;
            if (!IsDigit(Peek())) throw Fail("a digit after the decimal point");
            while (IsDigit(Peek())) _pos++;
        }
        if (Peek() is 'e' or 'E')
        {
            _pos++;
            if (Peek() is '+' or '-') _pos++;
            if (!IsDigit(Peek())) throw Fail("a digit in the exponent");
            while (IsDigit(Peek())) _pos++;
        }
        var text = _text.Substring(start, _pos - start);
        // TryParse: on .NET Framework (Visual Studio's compiler host) an out-of-range number throws instead of giving infinity.
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || double.IsInfinity(value))
            throw Fail("a number within the range of a double", start);
        return new JsonNumber(_lines.Range(start, _pos - start), text, value);
    }

    private static bool IsDigit(char c) => c >= '0' && c <= '9';

    private char Peek() => _pos < _text.Length ? _text[_pos] : '\0';

    private void SkipTrivia()
    {
        while (_pos < _text.Length)
        {
            var c = _text[_pos];
            if (c is ' ' or '\t' or '\n' or '\r' || c == '\uFEFF') { _pos++; continue; }
            if (c == '/' && _pos + 1 < _text.Length && _text[_pos + 1] == '/')
            {
                while (_pos < _text.Length && _text[_pos] != '\n') _pos++;
                continue;
            }
            if (c == '/' && _pos + 1 < _text.Length && _text[_pos + 1] == '*')
            {
                var end = _text.IndexOf("*/", _pos + 2, System.StringComparison.Ordinal);
                if (end < 0) throw Fail("the end of a /* comment */");
                _pos = end + 2;
                continue;
            }
            break;
        }
    }
}
