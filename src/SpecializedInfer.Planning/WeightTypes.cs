namespace SpecializedInfer.Planning;

/// <summary>
/// How manifests and plans name the type of a model's weight matrices (<c>"weightType"</c>): ggml's lowercase type
/// names, for every type a model file may store its matrices in and the runtime reads.
/// </summary>
public static class WeightTypes
{
    /// <summary>The names, as ggml spells them (the runtime's <c>GgmlTypeInfo.Name</c> of every type it dequantizes).</summary>
    public static readonly string[] Names =
    {
        "f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "iq4_nl", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k",
    };

    public static bool IsKnown(string name) => System.Array.IndexOf(Names, name) >= 0;

    /// <summary>
    /// Values per block of a type (ggml stores a row as whole blocks): 1 for f32, f16 and bf16, 32 for the legacy
    /// quants and iq4_nl, 256 for the K-quants.
    /// </summary>
    public static int BlockValues(string name) => name switch
    {
        "f32" or "f16" or "bf16" => 1,
        "q2_k" or "q3_k" or "q4_k" or "q5_k" or "q6_k" => 256,
        _ => 32,
    };
}
