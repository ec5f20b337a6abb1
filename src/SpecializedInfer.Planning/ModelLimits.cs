namespace SpecializedInfer.Planning;

/// <summary>
/// The largest model the engines take, shared by the manifest reader (SI0028) and the model-file loader, so that a
/// manifest written from any loadable file reads back and no manifest describes a model no file could match.
/// </summary>
public static class ModelLimits
{
    /// <summary>Widths: embedding length, feed-forward length, head dimension.</summary>
    public const int MaxWidth = 1 << 20;
    public const int MaxHeads = 4096;
    public const int MaxLayers = 4096;
    public const int MaxContextLength = 1 << 24;
    public const int MaxVocabulary = 1 << 24;
}
