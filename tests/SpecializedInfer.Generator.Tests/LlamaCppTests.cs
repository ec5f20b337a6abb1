using SpecializedInfer.Generator.Tests.Engines;
using SpecializedInfer.Generator.Tests.Support;
using SpecializedInfer.Oracles;

namespace SpecializedInfer.Generator.Tests;

/// <summary>The generated engine of the empty plan (the unmodified model) decodes exactly as llama.cpp does.</summary>
public sealed class LlamaCppTests
{
    [Fact]
    public void Greedy_continuations_equal_llama_cpp()
    {
        using var oracle = new LlamaCppOracle(TestModels.Stories260K, contextSize: 512);
        using var engine = S260Full.Load(TestModels.Stories260K);
        foreach (var prompt in new[] { "Once upon a time", "Lily and Tom went to the park.", "The little dog was sad because", "One day" })
        {
            var tokens = oracle.Tokenize(prompt, addBos: true);
            var expected = oracle.GreedyContinuation(tokens, 200);
            using var session = engine.CreateSession(512);
            var logits = session.Forward(tokens);
            var generated = new int[200];
            for (var i = 0; i < generated.Length; i++)
            {
                generated[i] = LlamaCppOracle.ArgMax(logits);
                if (i + 1 < generated.Length) logits = session.Forward(generated[i]);
            }
            Assert.Equal(expected, generated);
        }
    }
}
