using System.Globalization;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Quantization;

/// <summary>The file types <see cref="ModelQuantizer"/> writes, numbered as llama.cpp's <c>llama_ftype</c> (stored in <c>general.file_type</c>).</summary>
public enum QuantizedFileType : uint
{
    Q4_0 = 2,
    Q8_0 = 7,
}

/// <summary>
/// Writes a GGUF model's Q8_0 or Q4_0 version byte for byte as llama.cpp's quantizer does (<c>llama-quantize</c>,
/// <c>llama_model_quantize</c> with its default parameters: no importance matrix, output tensor quantized):
/// <list type="bullet">
/// <item>which tensors: 2-D and larger whose name ends in <c>weight</c>, except norms (<c>_norm.weight</c>),
/// positional and token-type embeddings; everything else is copied as it is;</item>
/// <item>which type: the file type's, except the output matrix (<c>output.weight</c>, or <c>token_embd.weight</c>
/// when the model ties them), which Q4_0 files get in Q6_K (Q8_0 files keep Q8_0), or Q8_0 when 256 does not divide
/// its rows; a matrix whose rows 32 does not divide is refused, as llama.cpp refuses it (stories260K's 172-wide
/// feed-forward);</item>
/// <item>the bytes: ggml's reference quantizers (<see cref="ReferenceQuantizer"/>);</item>
/// <item>the layout: the metadata in the input's order with <c>split.*</c> removed and
/// <c>general.quantization_version</c> = 2 and <c>general.file_type</c> moved to the end; tensors ordered by layer
/// number (tensors outside <c>blk.N.</c> first), then by name in byte order; the input's alignment.</item>
/// </list>
/// Inputs are F32, F16 or BF16 (as llama.cpp, a tensor already in its target type is copied; other quantized
/// tensors are refused, since requantizing loses precision). One tensor is in memory at a time.
/// </summary>
public static class ModelQuantizer
{
    /// <summary>ggml's <c>GGML_QNT_VERSION</c>: the block layouts' version, written as <c>general.quantization_version</c>.</summary>
    public const uint QuantizationVersion = 2;

    private static readonly string[] RemovedKeys = ["split.no", "split.count", "split.tensors.count", "general.quantization_version", "general.file_type"];

    /// <summary>Parses "q8_0" or "q4_0" (case-insensitive).</summary>
    public static bool TryParse(string name, out QuantizedFileType type) =>
        Enum.TryParse(name, ignoreCase: true, out type) && Enum.IsDefined(type);

    /// <summary>Quantizes <paramref name="input"/> into <paramref name="outputPath"/> (written beside it and renamed into place).</summary>
    /// <exception cref="GgufFormatException">A tensor of a type that cannot be quantized.</exception>
    public static void Quantize(GgufFile input, QuantizedFileType fileType, string outputPath)
    {
        var writer = new GgufWriter();
        foreach (var (key, value) in input.Metadata)
            if (!RemovedKeys.Contains(key)) writer.Add(key, value);
        writer.Add("general.quantization_version", QuantizationVersion);
        writer.Add("general.file_type", (uint)fileType);

        var outputName = input.HasTensor("output.weight") ? "output.weight" : "token_embd.weight";
        foreach (var tensor in input.Tensors.OrderBy(t => Layer(t.Name)).ThenBy(t => t.Name, StringComparer.Ordinal))
        {
            var type = TargetType(tensor, fileType, tensor.Name == outputName)
                ?? throw new GgufFormatException(input.FilePath, tensor.HeaderOffset,
                    $"tensor '{tensor.Name}' with rows of a multiple of 32 values to quantize it to {fileType}, found rows of {tensor.Dimensions[0]} (llama.cpp refuses it too)");
            if (type == tensor.Type)
            {
                var source = input;
                writer.AddTensor(tensor.Name, tensor.Dimensions, type, () => source.GetBytes(tensor).ToArray());
                continue;
            }
            if (tensor.Type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16))
                throw new GgufFormatException(input.FilePath, tensor.HeaderOffset,
                    $"tensor '{tensor.Name}' in F32, F16 or BF16 to quantize it to {type} (requantizing loses precision), found {tensor.Type}");
            writer.AddTensor(tensor.Name, tensor.Dimensions, type, () => Convert(input, tensor, type));
        }
        writer.Write(outputPath);
    }

    /// <summary>
    /// The type llama.cpp gives <paramref name="tensor"/> in a file of <paramref name="fileType"/>, or null when
    /// llama.cpp refuses the tensor ("no tensor type fallback is defined"): a row length that 32 does not divide.
    /// </summary>
    public static GgmlType? TargetType(GgufTensorInfo tensor, QuantizedFileType fileType, bool isOutput)
    {
        var name = tensor.Name;
        var quantize = name.EndsWith("weight", StringComparison.Ordinal) && tensor.Dimensions.Length >= 2
            && !name.Contains("_norm.weight", StringComparison.Ordinal)
            && name is not ("position_embd.weight" or "token_types.weight");
        if (!quantize) return tensor.Type;
        var type = fileType == QuantizedFileType.Q8_0 ? GgmlType.Q8_0 : GgmlType.Q4_0;
        var rowLength = tensor.Dimensions[0];
        // llama.cpp's output rule: Q6_K unless the file is Q8_0 or the file type's block does not divide the rows.
        if (isOutput && type != GgmlType.Q8_0) type = rowLength % BlockValues(type) != 0 ? GgmlType.Q8_0 : GgmlType.Q6_K;
        // Its fallback for rows a type's block does not divide: Q6_K to Q8_0; none for Q8_0 and Q4_0.
        if (type == GgmlType.Q6_K && rowLength % BlockValues(type) != 0) type = GgmlType.Q8_0;
        return rowLength % BlockValues(type) == 0 ? type : null;
    }

    private static int BlockValues(GgmlType type) => GgmlTypeInfo.TryGetLayout(type, out var values, out _) ? values : 1;

    /// <summary>llama.cpp's order key: the N of a <c>blk.N.</c> name (as <c>sscanf("blk.%d.")</c> reads it), else -1.</summary>
    private static long Layer(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return -1;
        var end = name.IndexOf('.', 4);
        return end > 4 && int.TryParse(name.AsSpan(4, end - 4), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var layer) ? layer : -1;
    }

    private static byte[] Convert(GgufFile input, GgufTensorInfo tensor, GgmlType type)
    {
        var values = GC.AllocateUninitializedArray<float>(checked((int)tensor.ElementCount));
        GgmlDequantize.ToFloat32(tensor.Type, input.GetBytes(tensor), values);
        return type switch
        {
            GgmlType.Q8_0 => ReferenceQuantizer.Q8_0(values),
            GgmlType.Q4_0 => ReferenceQuantizer.Q4_0(values),
            GgmlType.Q6_K => ReferenceQuantizer.Q6_K(values),
            _ => throw new InvalidOperationException($"No quantizer for {type}."),
        };
    }
}
