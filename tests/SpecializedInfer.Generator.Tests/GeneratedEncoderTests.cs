using Microsoft.Extensions.AI;
using SpecializedInfer.Encoders;
using SpecializedInfer.Evaluation;
using SpecializedInfer.Generator.Tests.EncoderEngines;
using SpecializedInfer.Planning;
using SpecializedInfer.Tests.Encoders;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Generated encoders (EncoderEngines.cs) on all-MiniLM-L6-v2 against the reference encoder (BertEncoder, under the
/// same plan) and ONNX Runtime (the full model, on the ONNX file the GGUF was converted from): 200 sentences of 1-28
/// words through the engines' IEmbeddingGenerator at batch 1 and batch 16; the same bits on 1, 2 and 3 threads.
/// </summary>
[Collection(MiniLmCollection.Name)]
public sealed class GeneratedEncoderTests(MiniLm m)
{
    private const float ReferenceTolerance = 1e-5f;
    private const float OnnxRuntimeTolerance = 1e-4f;

    public static TheoryData<string, int> PlansAndBatches => new()
    {
        { nameof(MiniLmFull), 1 }, { nameof(MiniLmFull), 16 }, { nameof(MiniLmExit), 1 }, { nameof(MiniLmExit), 16 },
    };

    private static ISentenceEncoder Load(string engine, string model, int threads, int batchSize = 16) => engine switch
    {
        nameof(MiniLmFull) => MiniLmFull.Load(model, threads, batchSize),
        nameof(MiniLmExit) => MiniLmExit.Load(model, threads, batchSize),
        nameof(MiniLmDepth3) => MiniLmDepth3.Load(model, threads, batchSize),
        _ => throw new ArgumentException(engine),
    };

    private static ExecutionSchedule Schedule(string engine) => engine switch
    {
        nameof(MiniLmFull) => MiniLmFull.CompiledSchedule,
        nameof(MiniLmExit) => MiniLmExit.CompiledSchedule,
        _ => MiniLmDepth3.CompiledSchedule,
    };

    [Theory]
    [MemberData(nameof(PlansAndBatches))]
    public async Task Embeddings_equal_the_reference_encoder_and_onnx_runtime(string engine, int batch)
    {
        var texts = Sentences.Varied(200);
        using var generated = (IEmbeddingGenerator<string, Embedding<float>>)Load(engine, m.GgufPath, threads: 2, batchSize: batch);
        var embeddings = await generated.GenerateAsync(texts);
        var reference = new BertEncoder(m.Weights, Schedule(engine));
        var referenceSteps = new int[texts.Length];
        var expected = reference.Embed(texts, referenceSteps, batch);

        Assert.Equal(texts.Length, embeddings.Count);
        var steps = embeddings.Select(e => (int)e.AdditionalProperties![EmbeddingEvaluator.StepsProperty]!).ToArray();
        Assert.Equal(referenceSteps, steps);
        var worst = Worst(expected, embeddings.Select(e => e.Vector.ToArray()).ToArray());
        Assert.True(worst <= ReferenceTolerance, $"largest difference from the reference encoder {worst:E2} > {ReferenceTolerance:E0}");
        if (engine == nameof(MiniLmFull))
        {
            Assert.All(steps, s => Assert.Equal(6, s));
            var onnx = Worst(m.OnnxRuntimeEmbeddings(texts), embeddings.Select(e => e.Vector.ToArray()).ToArray());
            Assert.True(onnx <= OnnxRuntimeTolerance, $"largest difference from ONNX Runtime {onnx:E2} > {OnnxRuntimeTolerance:E0}");
        }
        else
        {
            // The exits decide: sentences leave after several different steps, some run all five.
            Assert.True(steps.Distinct().Count() >= 3, $"steps run: {string.Join(" ", steps.CountBy(s => s).OrderBy(p => p.Key))}");
            Assert.Contains(5, steps);
        }
    }

    [Theory]
    [InlineData(nameof(MiniLmFull))]
    [InlineData(nameof(MiniLmExit))]
    public void One_two_and_three_threads_give_the_same_bits(string engine)
    {
        var tokens = Sentences.Varied(40, seed: 3).Select(m.Encoder.Tokenizer.Encode).ToArray();
        float[][]? first = null;
        int[]? firstSteps = null;
        foreach (var threads in new[] { 1, 2, 3 })
        {
            var encoder = Load(engine, m.GgufPath, threads);
            using var _ = (IDisposable)encoder;
            var steps = new int[tokens.Length];
            var embeddings = encoder.EmbedTokens(tokens, steps);
            if (first is null) (first, firstSteps) = (embeddings, steps);
            else
            {
                Assert.Equal(firstSteps, steps);
                for (var i = 0; i < tokens.Length; i++)
                    Assert.True(first[i].AsSpan().SequenceEqual(embeddings[i]), $"sentence {i} differs on {threads} threads");
            }
        }
    }

    [Fact]
    public void A_sentence_embeds_to_the_same_bits_alone_and_in_a_batch()
    {
        // Every output is one chain of fused multiply-adds wherever its row falls in a block: a sentence that leaves a
        // batch early equals the same sentence run alone.
        var tokens = Sentences.Varied(17, seed: 8).Select(m.Encoder.Tokenizer.Encode).ToArray();
        using var encoder = MiniLmExit.Load(m.GgufPath, threads: 1);
        var batched = encoder.EmbedTokens(tokens, new int[tokens.Length]);
        for (var i = 0; i < tokens.Length; i++)
            Assert.True(batched[i].AsSpan().SequenceEqual(encoder.EmbedTokens([tokens[i]], new int[1])[0]), $"sentence {i}");
    }

    [Fact]
    public void A_model_that_is_not_the_manifests_is_refused_naming_the_property()
    {
        // The same weights pooled by [CLS]: everything matches the manifest but its 'pooling'.
        var path = Path.Combine(m.Directory_, "minilm-cls.gguf");
        Onnx.BertGgufConverter.CreateWriter(m.Model, m.Vocabulary, "vocab.txt", BertPooling.Cls, "minilm").Write(path);
        var error = Assert.Throws<ManifestMismatchException>(() => MiniLmFull.Load(path));
        Assert.Equal("pooling", error.Property);
        Assert.Contains("minilm.model.json", error.Message);
    }

    private static float Worst(float[][] expected, float[][] actual)
    {
        var worst = 0f;
        for (var i = 0; i < expected.Length; i++)
            for (var d = 0; d < expected[i].Length; d++) worst = Math.Max(worst, Math.Abs(expected[i][d] - actual[i][d]));
        return worst;
    }
}
