using System.Reflection;
using Microsoft.CodeAnalysis;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// A plan over a bert manifest with an error gives no encoder, but its class keeps a generated encoder's members (not a
/// decoder's), each throwing with the SI diagnostic's words: code written against the valid encoder, compiled here
/// first with a valid plan, compiles unchanged while the plan has an error, and the SI error is the build's only one.
/// </summary>
public sealed class UnavailableEncoderTests
{
    private const string PlanPath = GeneratorHarness.ProjectRoot + "/Plans/e.plan.json";
    private const string ManifestPath = GeneratorHarness.ProjectRoot + "/Plans/e.model.json";

    private static readonly string Manifest = File.ReadAllText(Path.Combine(GeneratorHarness.TestFolder(), "EncoderPlans", "minilm.model.json"));

    /// <summary>User code touching every public member of a generated encoder: constants, statics, instance members, interfaces.</summary>
    private const string User = """
        using System.Linq;
        using Microsoft.Extensions.AI;

        namespace Demo
        {
            [SpecializedInfer.SpecializedEngine("Plans/e.plan.json")]
            public partial class Encoder
            {
                public static int Unavailable => 0; // a name of the user's the throwing surface must not take
            }

            public static class Use
            {
                public static string Plan() => Encoder.PlanFile;
                public static object Manifest() => Encoder.Manifest;
                public static object Schedule() => Encoder.CompiledSchedule;
                public static int Sizes() => Encoder.Dim + Encoder.HiddenDim + Encoder.Heads * Encoder.HeadDim; // SIZES

                public static float Run(string model)
                {
                    using var encoder = Encoder.Load(model, threads: 1, batchSize: 4);
                    var steps = new int[1];
                    var embedding = encoder.EmbedTokens([encoder.Tokenizer.Encode("a tap")], steps)[0];
                    return embedding[0] + encoder.Threads + encoder.Dimensions + encoder.Schedule.Steps.Count + steps[0]
                        + encoder.AsEmbeddingGenerator().BatchSize;
                }

                public static float Generate(string model)
                {
                    using var encoder = Encoder.Load(model);
                    IEmbeddingGenerator<string, Embedding<float>> generator = encoder;
                    var embeddings = generator.GenerateAsync(["a tap"]).GetAwaiter().GetResult();
                    return embeddings[0].Vector.Span[0] + encoder.Metadata.DefaultModelDimensions!.Value + (generator.GetService(typeof(object)) is null ? 0 : 1);
                }

                public static SpecializedInfer.Encoders.ISentenceEncoder AsEncoder(string model) => Encoder.Load(model);
            }
        }
        """;

    private const string ValidPlan = "{ \"manifest\": \"e.model.json\", \"order\": [0, 1, 2] }";

    public static TheoryData<string, string, string, string> Cases => new()
    {
        // what is wrong, the plan, the manifest, the diagnostic the build and the exception name
        { "a layer out of range", "{ \"manifest\": \"e.model.json\", \"prune\": [7] }", Manifest, "SI0009" },
        { "a decoder's setting", "{ \"manifest\": \"e.model.json\", \"decodeDepth\": 3 }", Manifest, "SI0032" },
        { "a JSON syntax error", "{ \"manifest\": \"e.model.json\", }", Manifest, "SI0001" },
        { "an invalid manifest", ValidPlan, Manifest.Replace("\"heads\": 12", "\"heads\": 7"), "SI0024" },
    };

    [Fact]
    public void The_user_code_compiles_against_a_valid_encoder()
    {
        List<AdditionalText> texts = [new InMemoryAdditionalText(PlanPath, ValidPlan), new InMemoryAdditionalText(ManifestPath, Manifest)];
        var (output, generatorDiagnostics, result) = GeneratorHarness.Run(GeneratorHarness.Compilation(User), texts);
        Assert.Empty(generatorDiagnostics);
        Assert.Single(GeneratorHarness.EngineTrees(result));
        Assert.Empty(GeneratorHarness.UnavailableTrees(result));
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Code_using_the_encoder_compiles_and_the_only_errors_are_the_SI_ones(string what, string plan, string manifest, string id)
    {
        // With an invalid manifest the sizes are unknown, so the constants are not declared (and not used here).
        var sizesKnown = id != "SI0024";
        var user = sizesKnown ? User : string.Join('\n', User.Split('\n').Where(l => !l.Contains("// SIZES")));
        List<AdditionalText> texts = [new InMemoryAdditionalText(PlanPath, plan), new InMemoryAdditionalText(ManifestPath, manifest)];
        var compilation = GeneratorHarness.Compilation(user);
        var (output, generatorDiagnostics, result) = GeneratorHarness.Run(compilation, texts);
        Assert.Empty(generatorDiagnostics);
        Assert.Empty(GeneratorHarness.EngineTrees(result));
        var placeholder = Assert.Single(GeneratorHarness.UnavailableTrees(result)).ToString();
        Assert.Contains("global::SpecializedInfer.Encoders.ISentenceEncoder", placeholder);
        Assert.DoesNotContain("ISpecializedEngine", placeholder);
        Assert.Equal(sizesKnown, placeholder.Contains("public const int Dim = 384;"));
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
            Assert.Equal("Plans/e.plan.json", use.GetMethod("Plan")!.Invoke(null, null));
            if (sizesKnown) Assert.Equal(384 + 1536 + 384, use.GetMethod("Sizes")!.Invoke(null, null));
            foreach (var member in new[] { "Manifest", "Schedule", "Run", "Generate", "AsEncoder" })
            {
                var method = use.GetMethod(member)!;
                var thrown = Assert.Throws<TargetInvocationException>(() => method.Invoke(null, method.GetParameters().Length == 0 ? null : ["model.gguf"]));
                var e = Assert.IsType<InvalidOperationException>(thrown.InnerException);
                Assert.Contains($"{id}: {error.GetMessage()}", e.Message);
                Assert.Contains("'Plans/e.plan.json'", e.Message);
            }
        });
    }
}
