using System.Reflection;
using System.Runtime.Loader;

namespace SpecializedInfer.Cli.Engines;

/// <summary>
/// A collectible load context holding one generated engine's assembly. It resolves nothing itself, so every
/// dependency (SpecializedInfer.Runtime, System.Numerics.Tensors) comes from the default context: the engine's
/// <c>ILanguageModel</c> is the very type the CLI holds, and disposing the engine lets the assembly be unloaded.
/// </summary>
internal sealed class EngineLoadContext(string name) : AssemblyLoadContext(name, isCollectible: true)
{
    protected override Assembly? Load(AssemblyName assemblyName) => null;
}
