using Microsoft.Extensions.AI;
using SpecializedInfer.Encoders;

namespace SpecializedInfer.Tests.Encoders;

/// <summary>The reference encoder as Microsoft.Extensions.AI's <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>.</summary>
[Collection(MiniLmCollection.Name)]
public sealed class EmbeddingGeneratorTests(MiniLm m)
{
    [Fact]
    public async Task Embeddings_are_the_encoders_with_metadata_and_usage()
    {
        var texts = Sentences.Varied(37, seed: 21);
        using var generator = new BertEmbeddingGenerator(m.Encoder, "all-MiniLM-L6-v2", batchSize: 8);
        var generated = await generator.GenerateAsync(texts);

        // Batches of 8 against the encoder's batches of 16 and of 1: padding never changes a sentence's embedding.
        foreach (var expected in new[] { m.Encoder.Embed(texts, batchSize: 16), m.Encoder.Embed(texts, batchSize: 1) })
        {
            Assert.Equal(texts.Length, generated.Count);
            for (var i = 0; i < texts.Length; i++) Assert.Equal(expected[i], generated[i].Vector.ToArray());
        }
        Assert.All(generated, e => Assert.Equal(("all-MiniLM-L6-v2", 384), (e.ModelId, e.Dimensions)));
        Assert.Equal(texts.Sum(t => (long)m.Encoder.Tokenizer.Encode(t).Length), generated.Usage!.InputTokenCount);
        Assert.Equal(generated.Usage.InputTokenCount, generated.Usage.TotalTokenCount);

        var metadata = generator.GetService<EmbeddingGeneratorMetadata>()!;
        Assert.Equal(("SpecializedInfer", "all-MiniLM-L6-v2", 384), (metadata.ProviderName, metadata.DefaultModelId, metadata.DefaultModelDimensions));
        Assert.Same(m.Encoder, generator.GetService<BertEncoder>());
        Assert.Null(generator.GetService<BertEncoder>("a key"));
    }

    [Fact]
    public async Task Plain_microsoft_extensions_ai_code_runs_on_it()
    {
        // What an application writes against the abstraction alone.
        IEmbeddingGenerator<string, Embedding<float>> generator = new BertEmbeddingGenerator(m.Encoder, "minilm");
        ReadOnlyMemory<float> vector = await generator.GenerateVectorAsync("A cat sat on the mat.");
        Embedding<float> embedding = await generator.GenerateAsync("A cat sat on the mat.");
        Assert.Equal(m.Encoder.Embed(["A cat sat on the mat."])[0], vector.ToArray());
        Assert.Equal(vector.ToArray(), embedding.Vector.ToArray());
        await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 128 }));
    }

    [Fact]
    public async Task Bad_options_and_inputs_are_refused_in_sentences()
    {
        IEmbeddingGenerator<string, Embedding<float>> generator = new BertEmbeddingGenerator(m.Encoder, "minilm");
        AssertSentence("This model's embeddings have 384 dimensions; 128 were asked for, and the model was not trained for shorter ones.",
            await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 128 })));
        AssertSentence("This generator runs the model 'minilm'; 'other' was asked for.",
            await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { ModelId = "other" })));
        AssertSentence("Text 2 is null; every value to embed is a string.",
            await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(["x", null!])));
        AssertSentence("A batch holds at least one sentence, not 0.",
            Assert.Throws<ArgumentOutOfRangeException>(() => new BertEmbeddingGenerator(m.Encoder, "minilm", batchSize: 0)));
        AssertSentence("The model needs a name (its id in the generator's metadata).",
            Assert.Throws<ArgumentException>(() => new BertEmbeddingGenerator(m.Encoder, " ")));
    }

    [Fact]
    public void An_empty_batch_and_bad_token_ids_are_refused_in_sentences()
    {
        AssertSentence("A batch holds at least one sentence.", Assert.Throws<ArgumentException>(() => m.Encoder.EmbedTokens([])));
        AssertSentence("Every sentence has at least one token ([CLS]).", Assert.Throws<ArgumentException>(() => m.Encoder.EmbedTokens([[]])));
        AssertSentence("The span for the steps each sentence ran must be as long as the list of sentences (1); it is 2 long.", Assert.Throws<ArgumentException>(() => m.Encoder.EmbedTokens([[101, 102]], new int[2])));
        AssertSentence($"Token id 40000 is outside the vocabulary: ids run from 0 to {m.Vocabulary.Length - 1}.",
            Assert.Throws<ArgumentOutOfRangeException>(() => m.Encoder.EmbedTokens([[101, 40000, 102]])));
        AssertSentence("A batch holds at least one sentence, not 0.", Assert.Throws<ArgumentOutOfRangeException>(() => m.Encoder.Embed(["x"], batchSize: 0)));
    }

    private static void AssertSentence(string expected, ArgumentException e)
    {
        Assert.Equal(expected, e.Message);
        Assert.DoesNotContain("(Parameter", e.Message);
        Assert.Null(e.ParamName);
    }

    [Fact]
    public async Task Cancellation_stops_before_the_next_batch()
    {
        using var generator = new BertEmbeddingGenerator(m.Encoder, "minilm", batchSize: 4);
        using var cancellation = new CancellationTokenSource();
        var read = 0;
        IEnumerable<string> Texts()
        {
            foreach (var text in Sentences.Varied(40, seed: 3))
            {
                // Cancelled while the second batch is being read: it must not be encoded, nor the input read further.
                if (++read == 6) cancellation.Cancel();
                yield return text;
            }
        }
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => generator.GenerateAsync(Texts(), cancellationToken: cancellation.Token));
        Assert.Equal(8, read);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => generator.GenerateAsync(["a"], cancellationToken: cancellation.Token));
    }
}
