using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Gguf;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Testing;

/// <summary>
/// The story an engine writes from "Once upon a time", greedily, decoded as <c>si run</c> and the README's program print
/// it: the oracle the documentation tests hold their quoted output and the README program's output against.
/// </summary>
/// <remarks>This file is linked into both test projects (tests/Shared).</remarks>
public static class GreedyStory
{
    public static string Write(ILanguageModel engine, string modelPath, int count)
    {
        using var file = GgufFile.Open(modelPath);
        var tokenizer = LlamaTokenizer.FromGguf(file);
        using var session = engine.CreateSession();
        var generator = new TextGenerator(session, new Sampler(SamplingOptions.Greedy, engine.Config.VocabSize), tokenizer.EosId);
        var prompt = tokenizer.Encode("Once upon a time", addBos: true);
        return tokenizer.Decode([.. prompt.Skip(1), .. generator.Generate(prompt, count)]).TrimStart(' ');
    }
}
