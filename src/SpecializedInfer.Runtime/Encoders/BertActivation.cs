namespace SpecializedInfer.Encoders;

/// <summary>The feed-forward activation an encoder computes.</summary>
public enum BertActivation
{
    /// <summary>Exact GELU, x · ½(1 + erf(x/√2)): what BERT and its ONNX export compute. The default.</summary>
    GeluErf,

    /// <summary>
    /// llama.cpp's CPU <c>ggml_gelu</c>: the tanh approximation looked up in a table of half-precision inputs and
    /// outputs (0 below −10, x above 10). Only for comparing with llama.cpp: it moves MiniLM's embeddings by up to 3e-4.
    /// </summary>
    GeluTanhHalfTable,
}

/// <summary>The activations' arithmetic.</summary>
public static class BertActivations
{
    private static readonly Lazy<float[]> HalfTable = new(() =>
    {
        // ggml_table_gelu_f16[i] = fp16(gelu_tanh(fp32(half i))), as ggml_cpu_init fills it.
        var table = new float[1 << 16];
        for (var i = 0; i < table.Length; i++)
        {
            var x = (float)BitConverter.UInt16BitsToHalf((ushort)i);
            var g = 0.5f * x * (1.0f + MathF.Tanh(0.79788456080286535587989211986876f * x * (1.0f + 0.044715f * x * x)));
            table[i] = (float)(Half)g;
        }
        return table;
    });

    public static void Apply(BertActivation activation, Span<float> values)
    {
        if (activation == BertActivation.GeluErf) { GeluErf.Apply(values); return; }
        var table = HalfTable.Value;
        for (var i = 0; i < values.Length; i++)
        {
            var x = values[i];
            values[i] = x <= -10f ? 0f : x >= 10f ? x : table[BitConverter.HalfToUInt16Bits((Half)x)];
        }
    }
}
