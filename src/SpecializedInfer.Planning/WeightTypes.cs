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
}
