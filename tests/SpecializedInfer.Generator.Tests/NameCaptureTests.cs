using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Generated code lives in the user's namespace and partial class, where C# looks up a simple name among the
/// namespace's types and the class's members before any using directive. Types and members named like what the
/// kernels and the engine call (Unsafe, Vector512, MathF, Kernels, VectorMath, ...) must not capture those calls.
/// </summary>
public sealed class NameCaptureTests
{
    /// <summary>The names generated code uses, declared as types beside the engines.</summary>
    private static readonly string[] TypeNames =
    [
        "Unsafe", "Vector512", "Vector256", "Vector128", "MemoryMarshal", "MathF", "Math", "Kernels", "VectorMath", "Span", "ReadOnlySpan",
        "TensorPrimitives", "MethodImpl", "MethodImplOptions", "Avx512F", "Fma", "Sse", "Array", "GC", "Marshal", "Generated", "System",
        "SpecializedInfer",
    ];

    /// <summary>The same names as members of each engine's partial class (what the kernels call, and the kernel classes' old names).</summary>
    private const string Members = """
            public static int Unsafe => 1;
            public int Vector512 = 2;
            public static void Vector128() { }
            public static string MemoryMarshal = "";
            public static double MathF => 3;
            public class Kernels { }
            public static int VectorMath() => 4;
            public static object? TensorPrimitives;
            public static int Generated;
        """;

    private static readonly (string Class, string Plan)[] Engines =
    [
        ("Combo", "s260.combo.plan.json"),      // skips and exits
        ("Lossless", "odd.lossless.plan.json"), // speculative session, padded rows
        ("Mha", "mha.full.plan.json"),          // prefetching kernels
    ];

    [Fact]
    public void Types_and_members_named_like_generated_calls_do_not_capture_them()
    {
        var source = "namespace Captured\n{\n" +
                     string.Join("\n", TypeNames.Select(n => $"    public sealed class {n} {{ }}")) + "\n" +
                     string.Join("\n", Engines.Select(e =>
                         $"    [global::SpecializedInfer.SpecializedEngine(\"Plans/{e.Plan}\")]\n    public partial class {e.Class}\n    {{\n{Members}\n    }}")) +
                     "\n}\n";
        InMemoryEngines.CompileAndLoad(source, InMemoryEngines.PlanFiles(), assembly =>
        {
            foreach (var (cls, plan) in Engines)
            {
                var planPath = Path.Combine(InMemoryEngines.PlansFolder, plan);
                InMemoryEngines.CompareWithReference(assembly, $"Captured.{cls}", TestModels.PathFor(planPath), planPath, observe: false);
            }
        });
    }
}
