using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Generator.Tests.Support;

/// <summary>
/// Engines this assembly does not carry: source and plans compiled in memory with the generator, loaded into a
/// collectible context, and run against the reference engine like the engines of this assembly.
/// </summary>
public static class InMemoryEngines
{
    /// <summary>tests/.../Plans/*.json as AdditionalFiles under <see cref="GeneratorHarness.ProjectRoot"/>/Plans.</summary>
    public static List<AdditionalText> PlanFiles() =>
        Directory.GetFiles(PlansFolder, "*.json").Order(StringComparer.Ordinal)
            .Select(f => (AdditionalText)new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/Plans/{Path.GetFileName(f)}", File.ReadAllText(f)))
            .ToList();

    public static string PlansFolder => Path.Combine(AppContext.BaseDirectory, "Plans");

    /// <summary>
    /// Generates, compiles (no generator diagnostics, no compile errors) and loads <paramref name="source"/>, then
    /// hands the assembly to <paramref name="use"/>; returns the generated trees.
    /// </summary>
    public static GeneratorDriverRunResult CompileAndLoad(string source, IEnumerable<AdditionalText> texts, Action<Assembly> use,
        IReadOnlyDictionary<string, string>? msbuildProperties = null)
    {
        var (compilation, diagnostics, result) = GeneratorHarness.Run(GeneratorHarness.Compilation(source), texts, msbuildProperties);
        Assert.Empty(diagnostics);
        Load(compilation, use);
        return result;
    }

    /// <summary>Emits <paramref name="compilation"/> (it must have no errors), loads it into a collectible context and hands it to <paramref name="use"/>.</summary>
    public static void Load(Compilation compilation, Action<Assembly> use)
    {
        using var image = new MemoryStream();
        var emit = compilation.Emit(image);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(20)));
        image.Position = 0;
        var context = new AssemblyLoadContext("in-memory-engines", isCollectible: true);
        try
        {
            use(context.LoadFromStream(image));
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>Loads the engine class <paramref name="typeName"/> on <paramref name="modelPath"/> and compares it with the reference engine running <paramref name="planPath"/>.</summary>
    public static void CompareWithReference(Assembly assembly, string typeName, string modelPath, string planPath, bool observe = true)
    {
        var load = assembly.GetType(typeName, throwOnError: true)!.GetMethod("Load", [typeof(string)])!;
        using var generated = (ILanguageModel)load.Invoke(null, [modelPath])!;
        using var reference = ReferenceEngine.Load(modelPath, planPath);
        Comparison.Run(generated, reference, reference.Config.VocabSize, observe);
    }
}
