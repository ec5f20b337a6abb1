using SpecializedInfer.Engine;
using SpecializedInfer.Tests.Plans;
using SpecializedInfer.Tokenization;
using SpecializedInfer.Tracing;

namespace SpecializedInfer.Tests.Learning;

/// <summary>stories260K, its tokenizer and the repository's evaluation prompts, encoded, for the learning and calibration tests.</summary>
internal static class LearningData
{
    public static string Stories => ModelLocator.Find("stories260K.gguf");

    public static string[] Prompts { get; } = File.ReadAllLines(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "eval", "prompts.txt"))
        .Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();

    public static int[][] Encode(LlamaTokenizer tokenizer, IEnumerable<string> prompts) => prompts.Select(p => tokenizer.Encode(p, addBos: true)).ToArray();

    /// <summary>Greedy continuations of <paramref name="prompts"/> by the full model, as si calibrate traces them.</summary>
    public static TeacherForcedTrace Greedy(ReferenceEngine full, IEnumerable<string> prompts, int count, params int[] steps)
    {
        var tokenizer = LlamaTokenizer.FromGguf(full.Weights.File);
        return TeacherForcedTrace.Record(full, TraceRequest.Continuations(Encode(tokenizer, prompts), count, 0, 0).ToList(), steps, tokenizer.EosId);
    }
}
