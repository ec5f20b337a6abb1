using System.Reflection;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Generator.Tests.Support;

/// <summary>The language-model engines generated into this test assembly (Engines.cs), found by their [SpecializedEngine] attribute (encoders are EncoderEngines.cs).</summary>
public static class EngineCatalog
{
    public static IReadOnlyList<Type> All { get; } = typeof(EngineCatalog).Assembly.GetTypes()
        .Where(t => t.GetCustomAttribute<SpecializedEngineAttribute>() is not null && typeof(ILanguageModel).IsAssignableFrom(t))
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToList();

    public static Type ByName(string name) => All.Single(t => t.Name == name);

    public static string PlanFile(Type engine) => engine.GetCustomAttribute<SpecializedEngineAttribute>()!.PlanPath;

    /// <summary>The plan file on disk (copied beside the test binaries).</summary>
    public static string PlanPath(Type engine) => Path.Combine(AppContext.BaseDirectory, PlanFile(engine));

    /// <summary>Calls the engine's static <c>Load</c> (ISpecializedEngine&lt;TSelf&gt;.Load) for a runtime type.</summary>
    public static ILanguageModel Load(Type engine, string modelPath) =>
        (ILanguageModel)typeof(EngineCatalog).GetMethod(nameof(LoadGeneric), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(engine).Invoke(null, [modelPath])!;

    private static ILanguageModel LoadGeneric<T>(string modelPath) where T : ISpecializedEngine<T> => T.Load(modelPath);

    public static Planning.ExecutionSchedule CompiledSchedule(Type engine) =>
        (Planning.ExecutionSchedule)typeof(EngineCatalog).GetMethod(nameof(ScheduleGeneric), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(engine).Invoke(null, null)!;

    private static Planning.ExecutionSchedule ScheduleGeneric<T>() where T : ISpecializedEngine<T> => T.CompiledSchedule;
}
