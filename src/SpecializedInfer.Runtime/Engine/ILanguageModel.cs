using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Engine;

/// <summary>
/// A loaded model that can run forward passes. The reference engine and every generated engine implement it,
/// so sampling, the CLI and the tests take either.
/// </summary>
public interface ILanguageModel : IDisposable
{
    /// <summary>The topology the engine runs.</summary>
    LlamaConfig Config { get; }

    /// <summary>The schedule the engine executes (the full model's when no plan is given).</summary>
    ExecutionSchedule Schedule { get; }

    /// <summary>A short name for reports ("reference", or a generated engine's class name).</summary>
    string Name { get; }

    /// <summary>
    /// A new session with its own KV cache for up to <paramref name="contextLength"/> positions (0: the model's context
    /// length), computing on the machine's physical cores.
    /// </summary>
    IInferenceSession CreateSession(int contextLength = 0);

    /// <summary>A new session as <paramref name="options"/> say: its context and the threads it computes on.</summary>
    IInferenceSession CreateSession(SessionOptions options);
}

/// <summary>
/// What every generated engine class offers statically: loading weights checked against the manifest it was
/// generated for, and that manifest and plan. Lets code be written once for any generated engine.
/// </summary>
public interface ISpecializedEngine<TSelf> : ILanguageModel where TSelf : ISpecializedEngine<TSelf>
{
    /// <summary>Maps a GGUF file and checks it against <see cref="Manifest"/> (a mismatch throws <see cref="ManifestMismatchException"/>).</summary>
    static abstract TSelf Load(string modelPath);

    /// <summary>The manifest the engine was generated for.</summary>
    static abstract ModelManifest Manifest { get; }

    /// <summary>The schedule compiled into the engine.</summary>
    static abstract ExecutionSchedule CompiledSchedule { get; }

    /// <summary>The plan file, as named in the <see cref="SpecializedEngineAttribute"/>.</summary>
    static abstract string PlanFile { get; }
}
