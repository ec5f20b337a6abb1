using System.Collections.Generic;

namespace SpecializedInfer.Planning.Json;

public enum JsonKind { Object, Array, String, Number, True, False, Null }

/// <summary>
/// A parsed JSON value that remembers where it stood in its file, so every problem found in a manifest or plan
/// can be reported at its exact line and column.
/// </summary>
public abstract class JsonNode
{
    protected JsonNode(JsonKind kind, TextRange range)
    {
        Kind = kind;
        Range = range;
    }

    public JsonKind Kind { get; }
    public TextRange Range { get; }

    /// <summary>How the kind is named in messages ("a number", "an array").</summary>
    public static string Describe(JsonKind kind) => kind switch
    {
        JsonKind.Object => "an object",
        JsonKind.Array => "an array",
        JsonKind.String => "a string",
        JsonKind.Number => "a number",
        JsonKind.True or JsonKind.False => "a boolean",
        _ => "null",
    };
}

public sealed class JsonObject : JsonNode
{
    public JsonObject(TextRange range, IReadOnlyList<JsonProperty> properties) : base(JsonKind.Object, range) => Properties = properties;

    public IReadOnlyList<JsonProperty> Properties { get; }

    public JsonProperty? Find(string name)
    {
        foreach (var p in Properties)
            if (p.Name == name) return p;
        return null;
    }
}

public sealed class JsonProperty
{
    public JsonProperty(string name, TextRange nameRange, JsonNode value)
    {
        Name = name;
        NameRange = nameRange;
        Value = value;
    }

    public string Name { get; }
    public TextRange NameRange { get; }
    public JsonNode Value { get; }
}

public sealed class JsonArray : JsonNode
{
    public JsonArray(TextRange range, IReadOnlyList<JsonNode> items) : base(JsonKind.Array, range) => Items = items;
    public IReadOnlyList<JsonNode> Items { get; }
}

public sealed class JsonString : JsonNode
{
    public JsonString(TextRange range, string value) : base(JsonKind.String, range) => Value = value;
    public string Value { get; }
}

public sealed class JsonNumber : JsonNode
{
    public JsonNumber(TextRange range, string text, double value) : base(JsonKind.Number, range)
    {
        Text = text;
        Value = value;
    }

    /// <summary>The number as written, for messages and for exact integer checks.</summary>
    public string Text { get; }
    public double Value { get; }

    public bool IsInteger => Value == System.Math.Floor(Value) && !double.IsInfinity(Value) && Text.IndexOfAny(new[] { '.', 'e', 'E' }) < 0;
}

public sealed class JsonLiteral : JsonNode
{
    public JsonLiteral(JsonKind kind, TextRange range) : base(kind, range) { }
}
