using System.Collections.Concurrent;
using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tests.Plans;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Tests.Speculation;

/// <summary>stories260K, its eval prompts, lossless plans written on demand, and full-depth greedy decoding to compare with.</summary>
internal static class Stories260KSpeculation
{
    public const int Vocab = 512;
    public static string Model => ModelLocator.Find("stories260K.gguf");
    private static readonly Lazy<ReferenceEngine> FullEngine = new(() => ReferenceEngine.Load(Model));
    private static readonly ConcurrentDictionary<string, int[]> FullGreedy = new();
    private static readonly Lazy<string> PlanDirectory = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("si-spec-").FullName;
        File.Copy(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json"), Path.Combine(dir, "stories260K.model.json"));
        return dir;
    });

    public static ReferenceEngine Full => FullEngine.Value;
    public static LlamaTokenizer Tokenizer => LlamaTokenizer.FromGguf(Full.Weights.File);

    /// <summary>The first <paramref name="count"/> prompts of models/eval/prompts.txt, tokenized with BOS.</summary>
    public static int[][] Prompts(int count)
    {
        var tokenizer = Tokenizer;
        return File.ReadLines(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "eval", "prompts.txt"))
            .Where(l => l.Trim().Length > 0 && !l.StartsWith('#'))
            .Take(count)
            .Select(l => tokenizer.Encode(l.Trim(), addBos: true))
            .ToArray();
    }

    /// <summary>A lossless plan file: <c>draftSteps</c>, <c>draftTokens</c> and optionally a draft exit (JSON).</summary>
    public static string LosslessPlan(int draftSteps, int draftTokens, string? exit = null)
    {
        var path = Path.Combine(PlanDirectory.Value, $"lossless-{draftSteps}-{draftTokens}-{Guid.NewGuid():N}.plan.json");
        File.WriteAllText(path, $$"""
            { "manifest": "stories260K.model.json", "kvFill": "lossless",
              "speculation": { "draftSteps": {{draftSteps}}, "draftTokens": {{draftTokens}} }
              {{(exit is null ? "" : $", \"exits\": [ {exit} ]")}} }
            """);
        return path;
    }

    public static ReferenceEngine Lossless(int draftSteps, int draftTokens, string? exit = null) =>
        ReferenceEngine.Load(Model, LosslessPlan(draftSteps, draftTokens, exit));

    /// <summary>Greedy tokens of the unmodified model, one Forward(int) per token, EOS not treated specially.</summary>
    public static int[] FullDepthGreedy(int[] prompt, int tokens) =>
        FullGreedy.GetOrAdd($"{string.Join(",", prompt)}/{tokens}", _ =>
        {
            using var session = Full.CreateSession(prompt.Length + tokens);
            var generator = new TextGenerator(session, Greedy, eosId: -1);
            return generator.Generate(prompt, tokens, stopAtEos: false).ToArray();
        });

    public static Sampler Greedy => new(new SamplingOptions { Temperature = 0 }, Vocab);

    public static int[] Bits(ReadOnlySpan<float> values)
    {
        var bits = new int[values.Length];
        for (var i = 0; i < values.Length; i++) bits[i] = BitConverter.SingleToInt32Bits(values[i]);
        return bits;
    }
}
