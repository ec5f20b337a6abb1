using Google.Protobuf;
using Onnx;

namespace SpecializedInfer.Onnx;

/// <summary>
/// An ONNX graph indexed for walking: which node produces a value, which nodes consume it, and the constant
/// tensors (initializers and <c>Constant</c> nodes). Every failed expectation throws <see cref="OnnxFormatException"/>
/// naming the node.
/// </summary>
internal sealed class OnnxGraph
{
    private readonly Dictionary<string, NodeProto> _producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorProto> _constants = new(StringComparer.Ordinal);

    private OnnxGraph(string filePath, GraphProto graph)
    {
        FilePath = filePath;
        Graph = graph;
        foreach (var t in graph.Initializer) _constants[t.Name] = t;
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output) _producers[output] = node;
            foreach (var input in node.Input)
            {
                if (!_consumers.TryGetValue(input, out var list)) _consumers[input] = list = [];
                list.Add(node);
            }
            if (node.OpType == "Constant" && node.Output.Count == 1 && node.Attribute.FirstOrDefault(a => a.Name == "value") is { T: { } value })
                _constants[node.Output[0]] = value;
        }
    }

    public string FilePath { get; }
    public GraphProto Graph { get; }

    /// <summary>The largest ONNX file read: protobuf itself stops at 2 GiB, and the whole file is held while parsing.</summary>
    public const long MaxFileBytes = int.MaxValue;

    /// <summary>Parses a serialized <c>ModelProto</c>; anything but a model with a graph throws naming the file.</summary>
    public static OnnxGraph Parse(string filePath, byte[] bytes)
    {
        ModelProto model;
        try
        {
            // Parsed from an array, never a stream: a length prefix past the end of the data is reported as truncation
            // instead of being allocated, so memory stays bounded by the file's size.
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException(filePath, "the file", $"a complete ONNX model (protobuf ModelProto): {e.Message.TrimEnd('.')}", e);
        }
        if (model.Graph is null || model.Graph.Node.Count == 0)
            throw new OnnxFormatException(filePath, "the file", "an ONNX model with a graph of nodes, found none (not an ONNX model?)");
        return new OnnxGraph(filePath, model.Graph);
    }

    public NodeProto? Producer(string value) => _producers.GetValueOrDefault(value);

    public IReadOnlyList<NodeProto> Consumers(string value) => _consumers.TryGetValue(value, out var list) ? list : [];

    public bool IsConstant(string value) => _constants.ContainsKey(value);

    public TensorProto? Constant(string value) => _constants.GetValueOrDefault(value);

    /// <summary>The one consumer of <paramref name="value"/> with operator <paramref name="op"/>.</summary>
    public NodeProto Next(string value, string op, string role)
    {
        var matches = Consumers(value).Where(n => n.OpType == op).ToList();
        if (matches.Count == 1) return matches[0];
        var found = Consumers(value).Select(n => $"{n.OpType} '{n.Name}'").ToList();
        throw new OnnxFormatException(FilePath, Describe(value),
            $"exactly one {op} node consuming it ({role}), found {(found.Count == 0 ? "no consumers" : string.Join(", ", found))}");
    }

    /// <summary>Where a value comes from, for messages: its producing node, or the value's name.</summary>
    public string Describe(string value) =>
        Producer(value) is { } node ? $"node '{node.Name}' ({node.OpType}, output '{value}')" : $"value '{value}'";

    public static string Describe(NodeProto node) => $"node '{node.Name}' ({node.OpType})";

    /// <summary>The input of a two-input node that is not <paramref name="value"/>.</summary>
    public static string Other(NodeProto node, string value) => node.Input[0] == value ? node.Input[1] : node.Input[0];

    /// <summary>A float32 constant tensor with exactly the shape <paramref name="dims"/>, as a flat array in row-major order.</summary>
    public float[] Floats(string name, long[] dims, string role)
    {
        var t = Constant(name) ?? throw new OnnxFormatException(FilePath, $"initializer '{name}'", $"an initializer holding {role}, found none (missing initializer)");
        if (t.DataType != (int)TensorProto.Types.DataType.Float)
            throw new OnnxFormatException(FilePath, $"initializer '{name}'", $"{role} as float32 (data type 1), found data type {t.DataType}");
        if (!t.Dims.SequenceEqual(dims))
            throw new OnnxFormatException(FilePath, $"initializer '{name}'", $"{role} of shape [{string.Join(", ", dims)}], found [{string.Join(", ", t.Dims)}]");
        var count = dims.Aggregate(1L, (a, d) => a * d);
        float[] data;
        if (!t.RawData.IsEmpty)
        {
            if (t.RawData.Length != count * 4)
                throw new OnnxFormatException(FilePath, $"initializer '{name}'", $"{count * 4} bytes of raw float32 data for {role}, found {t.RawData.Length}");
            data = new float[count];
            t.RawData.Span.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw data is little-endian; this reader runs on little-endian machines only.");
        }
        else if (t.FloatData.Count == count) data = [.. t.FloatData];
        else
            throw new OnnxFormatException(FilePath, $"initializer '{name}'", $"{count} float32 values for {role}, found {t.FloatData.Count} (and no raw data)");
        return data;
    }

    /// <summary>The shape of a constant tensor, or null when <paramref name="name"/> is not constant.</summary>
    public long[]? ConstantShape(string name) => Constant(name) is { } t ? [.. t.Dims] : null;

    /// <summary>A scalar (one-element) numeric constant as a double, or null when the value is not a constant scalar.</summary>
    public double? Scalar(string name)
    {
        if (Constant(name) is not { } t || t.Dims.Aggregate(1L, (a, d) => a * d) != 1) return null;
        var raw = t.RawData.Span;
        return (TensorProto.Types.DataType)t.DataType switch
        {
            TensorProto.Types.DataType.Float => raw.Length == 4 ? BitConverter.ToSingle(raw) : t.FloatData.Count == 1 ? t.FloatData[0] : null,
            TensorProto.Types.DataType.Double => raw.Length == 8 ? BitConverter.ToDouble(raw) : t.DoubleData.Count == 1 ? t.DoubleData[0] : null,
            TensorProto.Types.DataType.Int64 => raw.Length == 8 ? BitConverter.ToInt64(raw) : t.Int64Data.Count == 1 ? t.Int64Data[0] : null,
            TensorProto.Types.DataType.Int32 => raw.Length == 4 ? BitConverter.ToInt32(raw) : t.Int32Data.Count == 1 ? t.Int32Data[0] : null,
            _ => null,
        };
    }

    /// <summary>The int64 values of a constant tensor, or null.</summary>
    public long[]? Int64s(string name)
    {
        if (Constant(name) is not { DataType: (int)TensorProto.Types.DataType.Int64 } t) return null;
        if (!t.RawData.IsEmpty) return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray();
        return [.. t.Int64Data];
    }
}
