using SpecializedInfer.Gguf;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Models;

/// <summary>
/// Tensors an engine expands to F32 at load because the file stores them in a type its kernels do not multiply
/// (generated engines: anything but F32; the reference engine: anything but F32 and Q8_0/Q4_0 matrices): how many,
/// the memory they take expanded, and their size in the file.
/// </summary>
public readonly record struct DequantizedWeights(int Tensors, long Bytes, long FileBytes)
{
    /// <summary>What a loaded model expanded (<see cref="LlamaWeights.DequantizedTensors"/> and the byte counts).</summary>
    public static DequantizedWeights Of(LlamaWeights weights) => new(weights.DequantizedTensors, weights.DequantizedBytes, weights.DequantizedFileBytes);

    /// <summary>
    /// What an engine running <paramref name="schedule"/> expands when it binds <paramref name="file"/> by
    /// <paramref name="names"/>: the token embedding, output norm and (untied) output matrix, every tensor of the
    /// layers whose weights the schedule reads (merge sources included), and the exit heads it names. For an engine that does not hand out its
    /// <see cref="LlamaWeights"/> (a generated one); equal to <see cref="Of"/> of the same load (tested).
    /// <paramref name="multipliesQuantizedBlocks"/>: the engine keeps Q8_0/Q4_0 matrices in their blocks (the reference engine).
    /// </summary>
    public static DequantizedWeights Predict(GgufFile file, LlamaConfig config, TensorNames names, ExecutionSchedule schedule, bool multipliesQuantizedBlocks = false)
    {
        var bound = new List<string> { names.TokenEmbedding, names.OutputNorm };
        if (!config.TiedOutput) bound.Add(names.Output);
        foreach (var layer in schedule.LoadedLayers)
            bound.AddRange(LlamaModelRules.PerLayerPatterns(names).Select(pattern => TensorNames.ForLayer(pattern, layer)));
        foreach (var head in schedule.Exits.Select(e => e.Head).OfType<ExitHead>().Distinct())
            bound.AddRange(head.TensorNames);

        var result = new DequantizedWeights(0, 0, 0);
        // LlamaWeights' rule: a matrix of more than one row in a type QuantizedDot multiplies stays in the mapping.
        bool Kept(GgufTensorInfo t) => multipliesQuantizedBlocks && Quantization.QuantizedDot.Computes(t.Type) && t.Dimensions.Length == 2 && t.Dimensions[1] > 1;
        // A tensor bound twice by name (an exit head naming the model's own output matrix) is expanded once.
        foreach (var t in bound.Distinct(StringComparer.Ordinal).Where(file.HasTensor).Select(file.GetTensor).Where(t => t.Type != GgmlType.F32 && !Kept(t)))
            result = new DequantizedWeights(result.Tensors + 1, result.Bytes + t.ElementCount * sizeof(float), result.FileBytes + t.ByteSize);
        return result;
    }
}
