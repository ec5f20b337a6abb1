using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Encoders;

/// <summary>
/// What <see cref="BertEmbeddingGenerator"/> needs of an encoder: its tokenizer, its embedding size, and padded batches
/// of token sequences in, one embedding each out. The reference encoder (<see cref="BertEncoder"/>) and every generated
/// encoder implement it, so both are Microsoft.Extensions.AI embedding generators through the same code.
/// </summary>
public interface ISentenceEncoder
{
    /// <summary>The tokenizer that turns a text into the ids <see cref="EmbedTokens"/> takes ([CLS] … [SEP]).</summary>
    BertTokenizer Tokenizer { get; }

    /// <summary>The size of one embedding.</summary>
    int Dimensions { get; }

    /// <summary>
    /// One embedding per token sequence ([CLS] … [SEP] already added), all in one padded batch, with the number of plan
    /// steps each sentence ran in <paramref name="stepsRun"/>; cancellation is checked between the plan's steps.
    /// </summary>
    float[][] EmbedTokens(IReadOnlyList<int[]> sentences, Span<int> stepsRun, CancellationToken cancellation = default);
}
