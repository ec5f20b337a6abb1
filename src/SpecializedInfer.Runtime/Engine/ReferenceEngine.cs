using SpecializedInfer.Models;

namespace SpecializedInfer.Engine;

/// <summary>
/// The generic LLaMA-family forward pass: every dimension comes from the file at run time. It is the readable
/// oracle for generated engines, so clarity wins over speed where the two disagree.
/// </summary>
public sealed class ReferenceEngine : ILanguageModel
{
    private readonly bool _ownsWeights;

    public ReferenceEngine(LlamaWeights weights, bool ownsWeights = false)
    {
        Weights = weights;
        _ownsWeights = ownsWeights;
    }

    /// <summary>Loads a GGUF model; the engine owns (and disposes) the mapping.</summary>
    public static ReferenceEngine Load(string path) => new(LlamaWeights.Load(path), ownsWeights: true);

    public LlamaWeights Weights { get; }
    public LlamaConfig Config => Weights.Config;
    public string Name => "reference";

    public IInferenceSession CreateSession(int contextLength = 0) => new ReferenceSession(this, contextLength);

    public void Dispose()
    {
        if (_ownsWeights) Weights.Dispose();
    }
}
