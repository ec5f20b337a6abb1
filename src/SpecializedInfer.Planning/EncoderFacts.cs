namespace SpecializedInfer.Planning;

/// <summary>
/// What a manifest with <c>"architecture": "bert"</c> adds to the shared sizes: a BERT-family encoder with absolute
/// position embeddings, <see cref="TokenTypes"/> token-type embeddings, post-LayerNorm blocks, GELU (erf) and
/// bidirectional attention under a padding mask, whose token states are pooled (<see cref="Pooling"/>) into one
/// sentence embedding, L2-normalized when <see cref="Normalize"/>. The fixed parts are written out in the manifest
/// (<see cref="Positions"/> and the rest) so a reader sees the whole architecture; the reader accepts only these values.
/// </summary>
public sealed record EncoderFacts
{
    public const string Positions = "absolute";
    public const string Norm = "post";
    public const string Activation = "gelu";
    public const string Attention = "bidirectional";
    public const string MeanPooling = "mean";
    public const string ClsPooling = "cls";

    public int TokenTypes { get; init; } = 2;

    /// <summary><see cref="MeanPooling"/> (mask-weighted mean over every token, [CLS] and [SEP] included) or <see cref="ClsPooling"/>.</summary>
    public string Pooling { get; init; } = MeanPooling;

    public bool Normalize { get; init; } = true;
}
