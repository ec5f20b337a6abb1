using SpecializedInfer.Models;

namespace SpecializedInfer.Engine;

/// <summary>
/// A loaded model that can run forward passes. The reference engine and every generated engine implement it,
/// so sampling, the CLI and the tests take either.
/// </summary>
public interface ILanguageModel : IDisposable
{
    /// <summary>The topology the engine runs.</summary>
    LlamaConfig Config { get; }

    /// <summary>A short name for reports ("reference", or a generated engine's class name).</summary>
    string Name { get; }

    /// <summary>A new session with its own KV cache for up to <paramref name="contextLength"/> positions (0: the model's context length).</summary>
    IInferenceSession CreateSession(int contextLength = 0);
}
