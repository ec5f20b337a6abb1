namespace SpecializedInfer.Analysis;

/// <summary>What <see cref="LayerAnalysis"/> measures; the defaults are this project's, not the papers'.</summary>
public sealed record LayerAnalysisOptions
{
    /// <summary>n of the per-block figures: blocks of n consecutive layers (Block Influence, angular distance, removal).</summary>
    public int BlockSize { get; init; } = 2;

    /// <summary>LaCo: a merge is kept when the mean cosine of its final states to the full model's is at least this.</summary>
    public double LacoThreshold { get; init; } = 0.9;

    /// <summary>LaCo: the longest range of consecutive layers tried as one merge (2 .. this many).</summary>
    public int LacoMaxLayers { get; init; } = 3;
}

/// <summary>How far <see cref="LayerAnalysis.Run"/> has got: a phase and its progress.</summary>
public readonly record struct AnalysisProgress(string Phase, int Done, int Total);

/// <summary>Negative log-likelihood of a text under one plan, summed over its predicted tokens.</summary>
public sealed record TextNll(double NllSum, long Predictions)
{
    /// <summary>Mean negative log-likelihood per predicted token, in nats.</summary>
    public double MeanNll => NllSum / Predictions;
    public double Perplexity => Math.Exp(MeanNll);
}

/// <summary>
/// One layer: how much it changes the hidden state, and the perplexity without it or one of its halves.
/// <see cref="BlockInfluence"/> is ShortGPT's 1 − mean over tokens of cos(state entering the layer, state leaving it);
/// <see cref="AngularDistanceAll"/> Gromov et al.'s arccos(cos(x_ℓ, x_ℓ+1))/π averaged over every token, and
/// <see cref="AngularDistanceLast"/> the same for the last token of each sequence, averaged over sequences.
/// </summary>
public sealed record LayerImportance(int Layer, double BlockInfluence, double AngularDistanceAll, double AngularDistanceLast,
    double PerplexityWithoutLayer, double PerplexityWithoutAttention, double PerplexityWithoutFeedForward);

/// <summary>A block of <see cref="Count"/> consecutive layers from <see cref="First"/>: the same measures over the block.</summary>
public sealed record BlockImportance(int First, int Count, double BlockInfluence, double AngularDistanceAll, double AngularDistanceLast,
    double PerplexityWithoutBlock);

/// <summary>Gromov et al.'s angular distance between the state entering layer <see cref="Layer"/> and the one n layers later.</summary>
public sealed record AngularDistance(int Layer, int N, double AllTokens, double LastToken);

/// <summary>One round of SLEB's greedy removal: the layer removed (after the earlier ones) and the text's perplexity then.</summary>
public sealed record SlebStep(int Removed, int LayersLeft, double MeanNll, double Perplexity);

/// <summary>Cosine between the flattened tensors of one kind, for every layer pair ([i][j], symmetric, 1 on the diagonal).</summary>
public sealed record TensorSimilarity(string Kind, double[][] Cosine);

/// <summary>A pair of layers whose weight matrices point the same way: a candidate for <c>share</c>.</summary>
public sealed record SharingCandidate(int LayerA, int LayerB, double MeanMatrixCosine);

/// <summary>
/// A LaCo merge of layers <see cref="First"/> .. <see cref="First"/> + <see cref="Count"/> − 1 into the first: the mean
/// cosine of its final hidden states to the full model's, whether that reaches the threshold, and its perplexity.
/// </summary>
public sealed record LacoCandidate(int First, int Count, double FinalStateCosine, bool Kept, double Perplexity);

/// <summary>
/// Everything <c>si analyze</c> reports. The hidden-state measures ran over <see cref="StateSequences"/> sequences
/// (prompts, or the text's windows) of <see cref="StateTokens"/> tokens in all; perplexity over the text cut into
/// <see cref="Windows"/> windows, predicting <see cref="Predictions"/> tokens.
/// </summary>
public sealed record LayerAnalysisReport(
    int Layers,
    LayerAnalysisOptions Options,
    int StateSequences,
    int StateTokens,
    int Windows,
    long Predictions,
    TextNll Full,
    IReadOnlyList<LayerImportance> PerLayer,
    IReadOnlyList<BlockImportance> PerBlock,
    IReadOnlyList<AngularDistance> AngularDistances,
    IReadOnlyList<SlebStep> Sleb,
    IReadOnlyList<TensorSimilarity> WeightSimilarity,
    IReadOnlyList<SharingCandidate> SharingCandidates,
    IReadOnlyList<LacoCandidate> Laco);
