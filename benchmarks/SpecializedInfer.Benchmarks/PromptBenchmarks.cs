using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// Prompt evaluation, one thread: a 64-token prompt from an empty cache to the logits after its last token, reported
/// per prompt token. The engines batch prompt positions (generated and reference: chunks of 16; llama.cpp: its batch
/// size), so each weight row is read once per chunk instead of once per token.
/// </summary>
public class PromptBenchmarks : ThreeEngineBenchmarks
{
    /// <summary>The prompt and the one token llama.cpp's greedy continuation samples after it.</summary>
    protected override int ContextLength => Tokens + 1;

    [Benchmark(Baseline = true, OperationsPerInvoke = Tokens, Description = "reference engine")]
    public float Reference() => Prompt(ReferenceSession);

    [Benchmark(OperationsPerInvoke = Tokens, Description = "generated engine")]
    public float Generated() => Prompt(GeneratedSession);

    /// <summary>The prompt in llama.cpp batches, logits for the last position only, and their argmax.</summary>
    [Benchmark(OperationsPerInvoke = Tokens, Description = "llama.cpp (LLamaSharp)")]
    public int LlamaCpp() => LlamaCppModel.GreedyContinuation(Sequence, 1)[0];

    private float Prompt(IInferenceSession session)
    {
        session.Rewind(0);
        return session.Forward(Sequence)[0];
    }
}
