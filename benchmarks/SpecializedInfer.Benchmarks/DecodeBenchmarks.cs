using BenchmarkDotNet.Attributes;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Benchmarks;

/// <summary>
/// Batch-1 decoding, one thread: the time to evaluate one token (forward pass plus full-vocabulary logits) at
/// positions 0..63, for each engine on the same model file and the same token sequence.
/// </summary>
public class DecodeBenchmarks : ThreeEngineBenchmarks
{
    protected override int ContextLength => Tokens;

    [Benchmark(Baseline = true, OperationsPerInvoke = Tokens, Description = "reference engine")]
    public void Reference() => DecodeAll(ReferenceSession);

    [Benchmark(OperationsPerInvoke = Tokens, Description = "generated engine")]
    public void Generated() => DecodeAll(GeneratedSession);

    [Benchmark(OperationsPerInvoke = Tokens, Description = "llama.cpp (LLamaSharp)")]
    public void LlamaCpp() => LlamaCppModel.EvaluateOneByOne(Sequence);

    private void DecodeAll(IInferenceSession session)
    {
        session.Rewind(0);
        foreach (var t in Sequence) session.Forward(t);
    }
}
