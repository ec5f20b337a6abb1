using SpecializedInfer.Generation;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tests.Evaluation;

namespace SpecializedInfer.Tests.Generation;

/// <summary>Where <see cref="TextGenerator"/> stops and why, on a scripted model whose next token is known.</summary>
public sealed class TextGeneratorTests
{
    private const int Eos = 2;

    /// <summary>Counts up from the last token: 10, 11, 12, ...; <paramref name="eosAfter"/> tokens in the cache bring EOS.</summary>
    private static ScriptedModel Counting(int eosAfter = int.MaxValue) => new(64, tokens => tokens.Count >= eosAfter ? Eos : tokens[^1] + 1);

    private static (int[] Tokens, TextGenerator Generator) Generate(ScriptedModel model, int context, int[] prompt, int budget)
    {
        var generator = new TextGenerator(model.CreateSession(context), new Sampler(SamplingOptions.Greedy, 64), Eos);
        return (generator.Generate(prompt, budget).ToArray(), generator);
    }

    [Fact]
    public void The_budget()
    {
        var (tokens, generator) = Generate(Counting(), 32, [1, 10], 5);
        Assert.Equal([11, 12, 13, 14, 15], tokens);
        Assert.Equal(GenerationStop.TokenBudget, generator.StopReason);
        Assert.Equal(GenerationStop.TokenBudget, Generate(Counting(), 32, [1, 10], 0).Generator.StopReason);
    }

    [Fact]
    public void End_of_sequence()
    {
        var (tokens, generator) = Generate(Counting(eosAfter: 5), 32, [1, 10], 20);
        Assert.Equal([11, 12, 13], tokens); // 1 10 11 12 13 in the cache: EOS next, not yielded
        Assert.Equal(GenerationStop.EndOfSequence, generator.StopReason);
    }

    [Fact]
    public void A_full_context()
    {
        // 8 positions: the prompt's 2 and 6 generated tokens; the 7th comes from the last position's logits.
        var (tokens, generator) = Generate(Counting(), 8, [1, 10], 20);
        Assert.Equal([11, 12, 13, 14, 15, 16, 17], tokens);
        Assert.Equal(GenerationStop.ContextFull, generator.StopReason);
    }

    [Fact]
    public void End_of_sequence_from_the_last_position_is_end_of_sequence()
    {
        var (tokens, generator) = Generate(Counting(eosAfter: 8), 8, [1, 10], 20);
        Assert.Equal([11, 12, 13, 14, 15, 16], tokens);
        Assert.Equal(GenerationStop.EndOfSequence, generator.StopReason);
    }

    [Fact]
    public void The_first_decode_step_is_timed_within_generation()
    {
        var (_, generator) = Generate(Counting(), 64, [1, 10], 30);
        Assert.InRange(generator.FirstDecodeSeconds, double.Epsilon, generator.GenerationSeconds);
        Assert.True(generator.PromptSeconds > 0);
    }
}
