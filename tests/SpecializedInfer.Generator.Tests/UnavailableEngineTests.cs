using System.Reflection;
using Microsoft.CodeAnalysis;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// A plan with an error gives no engine, but its class keeps the engine's members, each throwing with the SI
/// diagnostic's words: code that uses the engine compiles, so the analyzer's SI error is the build's only error
/// (not "CS0117: 'StoriesFast' does not contain a definition for 'Load'" before it).
/// </summary>
public sealed class UnavailableEngineTests
{
    private const string PlanPath = GeneratorHarness.ProjectRoot + "/Plans/p.plan.json";
    private const string ManifestPath = GeneratorHarness.ProjectRoot + "/Plans/m.model.json";

    private const string Manifest = """
        { "name": "m", "architecture": "llama", "dim": 64, "hiddenDim": 176, "layers": 5, "heads": 8, "kvHeads": 4,
          "normEps": 1e-05, "vocabSize": 512, "contextLength": 2048 }
        """;

    /// <summary>User code touching every member a generated engine offers: statics, instance members and the session.</summary>
    private const string User = """
        namespace Demo
        {
            [SpecializedInfer.SpecializedEngine("Plans/p.plan.json")]
            public partial class Engine
            {
                public static int Unavailable => 0; // a name of the user's the throwing surface must not take
            }

            public static class Use
            {
                public static string Plan() => Engine.PlanFile;
                public static object Manifest() => Engine.Manifest;
                public static object Schedule() => Engine.CompiledSchedule;

                public static float Run(string model)
                {
                    using var engine = Engine.Load(model);
                    using Engine.Session session = engine.CreateSession(64);
                    SpecializedInfer.Engine.IInferenceSession general = ((SpecializedInfer.Engine.ILanguageModel)engine).CreateSession();
                    session.Forward([1, 2]);
                    session.Rewind(0);
                    return session.Forward(3)[0] + session.Position + general.ContextLength + engine.Config.Dim + engine.Schedule.Steps.Count + engine.Name.Length;
                }

                public static T LoadAny<T>(string model) where T : SpecializedInfer.Engine.ISpecializedEngine<T> => T.Load(model);
                public static Engine LoadGeneric(string model) => LoadAny<Engine>(model);
            }
        }
        """;

    public static TheoryData<string, string, string, string> Cases => new()
    {
        // what is wrong, the plan, the manifest, the diagnostic the build and the exception name
        { "a layer out of range", "{ \"manifest\": \"m.model.json\", \"prune\": [7] }", Manifest, "SI0009" },
        { "a JSON syntax error", "{ \"manifest\": \"m.model.json\", }", Manifest, "SI0001" },
        { "no manifest", "{ \"manifest\": \"missing.model.json\" }", Manifest, "SI0005" },
        { "an invalid manifest", "{ \"manifest\": \"m.model.json\" }", Manifest.Replace("\"heads\": 8", "\"heads\": 7"), "SI0024" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Code_using_the_engine_compiles_and_the_only_errors_are_the_SI_ones(string what, string plan, string manifest, string id)
    {
        List<AdditionalText> texts = [new InMemoryAdditionalText(PlanPath, plan), new InMemoryAdditionalText(ManifestPath, manifest)];
        var compilation = GeneratorHarness.Compilation(User);
        var (output, generatorDiagnostics, result) = GeneratorHarness.Run(compilation, texts);
        Assert.Empty(generatorDiagnostics);
        Assert.Empty(GeneratorHarness.EngineTrees(result));
        Assert.Single(GeneratorHarness.UnavailableTrees(result));
        var compileProblems = GeneratorHarness.Problems(output);
        Assert.True(compileProblems.Count == 0, $"{what}: {string.Join("\n", compileProblems)}");

        var (diagnostics, exceptions) = GeneratorHarness.Analyze(compilation, texts);
        Assert.Empty(exceptions);
        var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.NotEmpty(errors);
        Assert.All(errors, d => Assert.StartsWith("SI", d.Id));
        var error = errors.First(d => d.Id == id);

        // Run anyway (the SI error configured away): every member says what the build said.
        InMemoryEngines.Load(output, assembly =>
        {
            var use = assembly.GetType("Demo.Use", throwOnError: true)!;
            Assert.Equal("Plans/p.plan.json", use.GetMethod("Plan")!.Invoke(null, null));
            foreach (var member in new[] { "Manifest", "Schedule", "Run", "LoadGeneric" })
            {
                var method = use.GetMethod(member)!;
                var thrown = Assert.Throws<TargetInvocationException>(() => method.Invoke(null, method.GetParameters().Length == 0 ? null : ["model.gguf"]));
                var e = Assert.IsType<InvalidOperationException>(thrown.InnerException);
                Assert.Contains($"{id}: {error.GetMessage()}", e.Message);
                Assert.Contains("'Plans/p.plan.json'", e.Message);
            }
        });
    }

    [Fact]
    public void A_plan_missing_from_the_additional_files_gives_the_throwing_surface_too()
    {
        var compilation = GeneratorHarness.Compilation(User.Replace("Plans/p.plan.json", "Plans/nope.plan.json"));
        List<AdditionalText> texts = [new InMemoryAdditionalText(ManifestPath, Manifest)];
        var (output, _, result) = GeneratorHarness.Run(compilation, texts);
        Assert.Empty(GeneratorHarness.Problems(output));
        Assert.Contains("SI0006: The plan file 'Plans/nope.plan.json' is not among the project's AdditionalFiles", Assert.Single(GeneratorHarness.UnavailableTrees(result)).ToString());
        Assert.Contains(GeneratorHarness.Analyze(compilation, texts).Diagnostics, d => d.Id == "SI0006");
    }
}
