using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Tests.Cli;

/// <summary>
/// Argument errors thrown where user input arrives (token ids, prompts, sampling settings, a vocabulary read from a
/// file) keep their exception types, and their messages are sentences: no "(Parameter 'x')", no "Actual value was".
/// Sessions' own (token ids, rewinds, prompts) are the session contract's, checked over every engine
/// (tests/Shared/SessionContract.cs).
/// </summary>
public sealed class ArgumentMessageTests
{
    private static string Stories => ModelLocator.Find("stories260K.gguf");

    private static void AssertSentence(string expected, Exception e)
    {
        Assert.Equal(expected, e.Message);
        Assert.Null((e as ArgumentException)?.ParamName);
    }

    [Fact]
    public void Tokenizer_ids_and_vocabulary()
    {
        using var engine = ReferenceEngine.Load(Stories);
        var tokenizer = LlamaTokenizer.FromGguf(engine.Weights.File);
        AssertSentence("Token id 512 is outside the vocabulary: ids run from 0 to 511.", Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.TokenBytes(512)));
        string[] tokens = ["<unk>", "<s>", "</s>", "a"];
        float[] scores = [0, 0, 0, -1];
        int[] types = [2, 3, 3, 1];
        AssertSentence("The BOS token is 9; it must be a token id from 0 to 3, or -1 for none.",
            Assert.Throws<ArgumentOutOfRangeException>(() => new LlamaTokenizer(tokens, scores, types, 9, 2, 0)));
        AssertSentence("The vocabulary has 3 scores for 4 tokens.", Assert.Throws<ArgumentException>(() => new LlamaTokenizer(tokens, scores[..3], types, 1, 2, 0)));
        AssertSentence("Duplicate token text 'a' at ids 3 and 4.",
            Assert.Throws<ArgumentException>(() => new LlamaTokenizer([.. tokens, "a"], [.. scores, 0], [.. types, 1], 1, 2, 0)));
    }

    [Fact]
    public void Text_generator_prompts()
    {
        using var engine = ReferenceEngine.Load(Stories);
        using var session = engine.CreateSession(4);
        var generator = new TextGenerator(session, new Sampler(SamplingOptions.Greedy, 512), 2);
        AssertSentence("The prompt needs at least one token (usually BOS).", Assert.Throws<ArgumentException>(() => generator.Generate([], 3)));
        AssertSentence("The prompt of 5 tokens does not fit the 4 free positions of the 4-position context.",
            Assert.Throws<ArgumentException>(() => generator.Generate([1, 2, 3, 4, 5], 3)));
        Assert.Equal(0, session.Position);
    }

    [Fact]
    public void Sampler_settings_and_logits()
    {
        AssertSentence("top-p must be above 0 and at most 1, not 0.",
            Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(new SamplingOptions { TopP = 0 }, 4)));
        AssertSentence("The temperature must be a finite number of at least 0, not -1.",
            Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(new SamplingOptions { Temperature = -1 }, 4)));
        AssertSentence("top-k must be at least 0, not -2.", Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(new SamplingOptions { TopK = -2 }, 4)));
        AssertSentence("The sampler was made for 4 logits (the vocabulary), got 3.", Assert.Throws<ArgumentException>(() => new Sampler(SamplingOptions.Greedy, 4).Sample([1f, 2f, 3f])));
    }
}
