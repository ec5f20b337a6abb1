using Microsoft.CodeAnalysis;
using SpecializedInfer.Generator.Tests.Support;
using Xunit.Abstractions;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Hundreds of seeded malformed plans and manifests through the generator: no exception escapes it, and every
/// input yields either SI diagnostics (errors, and then no engine) or an engine; the engines compile without a
/// warning.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    public const int Seed = 8128;
    public const int Count = 300;

    [Fact]
    public void Malformed_inputs_give_diagnostics_or_engines_that_compile()
    {
        var cases = FuzzCases.Create(Seed, Count, Path.Combine(AppContext.BaseDirectory, "Plans"));
        var engines = new List<FuzzCase>();
        var seen = new HashSet<string>();
        foreach (var c in cases)
        {
            var (_, diagnostics, result) = GeneratorHarness.Run(GeneratorHarness.Compilation(Source(c, "E")), Files(c));
            var context = $"fuzz case {c.Index} ({c.Kind}):\n{c.PlanText}\n{c.ManifestText}\n{string.Join("\n", diagnostics)}";
            Assert.True(result.Results.All(r => r.Exception is null), context);
            Assert.DoesNotContain(diagnostics, d => !d.Id.StartsWith("SI", StringComparison.Ordinal));
            var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
            if (result.GeneratedTrees.IsEmpty) Assert.True(errors.Count > 0, "no engine and no error: " + context);
            else
            {
                Assert.True(errors.Count == 0, "an engine despite errors: " + context);
                if (seen.Add(result.GeneratedTrees[0].ToString())) engines.Add(c);
            }
        }
        output.WriteLine($"{cases.Count} inputs: {cases.Count - engines.Count} without a (new) engine, {engines.Count} distinct engines; kinds: " +
                         string.Join(", ", cases.GroupBy(c => c.Kind).Select(g => $"{g.Key} {g.Count()}")));
        Assert.True(engines.Count >= 20, $"only {engines.Count} inputs produced engines");

        // Every distinct engine, all in one compilation (each its own class, plan and manifest folder): no errors, no warnings.
        var batch = engines; // every distinct engine: compiling them is most of this test's time
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var source = string.Join("\n", batch.Select(c => Source(c, $"E{c.Index}").Replace("namespace Fuzz;", "")));
        var (compiled, generatorDiagnostics, run) = GeneratorHarness.Run(GeneratorHarness.Compilation("namespace Fuzz;\n" + source), batch.SelectMany(Files));
        Assert.Equal(batch.Count, run.GeneratedTrees.Length);
        Assert.DoesNotContain(generatorDiagnostics, d => d.Severity == DiagnosticSeverity.Error);
        var problems = GeneratorHarness.Problems(compiled);
        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(10)));
        output.WriteLine($"{batch.Count} engines compiled in {clock.Elapsed.TotalSeconds:F1} s");
    }

    private static string Source(FuzzCase c, string className) =>
        $"namespace Fuzz;\n[SpecializedInfer.SpecializedEngine(\"fuzz/{c.Index}/{c.PlanName}\")]\npublic partial class {className};\n";

    private static IEnumerable<AdditionalText> Files(FuzzCase c) =>
    [
        new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/fuzz/{c.Index}/{c.PlanName}", c.PlanText),
        new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/fuzz/{c.Index}/{c.ManifestName}", c.ManifestText),
    ];
}
