using System.Linq;
using SpecializedInfer.Generators.Model;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// Where an engine's kernels live: an internal class <c>{Class}Kernels</c> in a namespace of the generator's that
/// mirrors the engine's (<c>SpecializedInfer.Generated.Kernels.{engine namespace}.{containing types}</c>), one per
/// engine. Outside the user's namespace and class, because C# looks a simple name up among a namespace's types and a
/// class's members before any using directive: a user type or member named <c>Unsafe</c>, <c>Vector512</c> or
/// <c>MathF</c> there would capture the kernels' calls. The engine calls its kernels by this fully qualified name.
/// </summary>
public sealed record KernelClass(string Namespace, string Name)
{
    /// <summary>The namespace every engine's kernel class is under.</summary>
    public const string RootNamespace = "SpecializedInfer.Generated.Kernels";

    /// <summary>The fully qualified name generated code calls the kernels with.</summary>
    public string Reference => $"global::{Namespace}.{Name}";

    public static KernelClass For(EngineSpec spec)
    {
        // The engine's namespace and containing types as written (keywords keep their '@'): unique per engine, as its
        // full name is; the suffix keeps a kernel class apart from the namespace of an engine nested in its engine.
        var parts = new[] { RootNamespace }
            .Concat(spec.Namespace is null ? Enumerable.Empty<string>() : new[] { spec.Namespace })
            .Concat(spec.ContainingTypes.Select(c => c.Name));
        return new KernelClass(string.Join(".", parts), spec.ClassName + "Kernels");
    }
}
