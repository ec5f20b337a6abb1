using System.Diagnostics;
using Microsoft.CodeAnalysis;
using SpecializedInfer.Generator.Tests.Support;
using Xunit.Abstractions;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// Seeded malformed and odd plans and manifests through the generator and the analyzer together: no exception
/// escapes either (no CS8785 from the generator, no AD0001 from the analyzer), the generator reports nothing, an
/// input gets an SI error from the analyzer exactly when the generator emits the engine's throwing surface instead of
/// an engine, and every engine and every throwing surface it emits compiles without a warning.
/// </summary>
/// <remarks>
/// The normal run checks <see cref="DefaultCount"/> inputs. The full run (10,000 inputs, a few minutes):
/// <c>SPECIALIZEDINFER_FUZZ_COUNT=10000 dotnet test tests/SpecializedInfer.Generator.Tests -c Release --filter FullyQualifiedName~FuzzTests</c>
/// (SPECIALIZEDINFER_FUZZ_SEED picks another seed; SPECIALIZEDINFER_FUZZ_LOG=FILE appends progress to FILE as it goes,
/// since xunit shows test output only at the end). Checking the inputs takes about 3 s per 100; compiling the
/// distinct engines (about one input in nine) is most of the time.
/// </remarks>
public sealed class FuzzTests(ITestOutputHelper output)
{
    public const int DefaultSeed = 8128;
    public const int DefaultCount = 500;

    /// <summary>Engines per compilation when checking they compile: one compilation of thousands would need gigabytes.</summary>
    private const int CompileBatch = 200;

    private static int FromEnvironment(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out var v) && v > 0 ? v : fallback;

    private static void Log(string line)
    {
        if (Environment.GetEnvironmentVariable("SPECIALIZEDINFER_FUZZ_LOG") is { Length: > 0 } path)
            File.AppendAllText(path, $"{DateTime.UtcNow:HH:mm:ss} {line}\n");
    }

    [Fact]
    public void Malformed_inputs_give_one_clear_error_or_engines_that_compile()
    {
        var seed = FromEnvironment("SPECIALIZEDINFER_FUZZ_SEED", DefaultSeed);
        var count = FromEnvironment("SPECIALIZEDINFER_FUZZ_COUNT", DefaultCount);
        var clock = Stopwatch.StartNew();
        var cases = FuzzCases.Create(seed, count, Path.Combine(AppContext.BaseDirectory, "Plans"));
        var engines = new List<FuzzCase>();
        var seen = new HashSet<string>();
        var surfaces = new List<FuzzCase>();
        var seenSurfaces = new HashSet<string>();
        var rejected = 0;
        foreach (var c in cases)
        {
            if (c.Index % 1000 == 999) Log($"{c.Index + 1} inputs checked, {rejected} rejected, {engines.Count} distinct engines, {clock.Elapsed.TotalSeconds:F0} s");
            var compilation = GeneratorHarness.Compilation(Source(c, "E"));
            var files = Files(c).ToList();
            var (_, generatorDiagnostics, result) = GeneratorHarness.Run(compilation, files);
            var (diagnostics, exceptions) = GeneratorHarness.Analyze(compilation, files);
            var context = $"fuzz case {c.Index} of seed {seed} ({c.Kind}):\n{c.PlanText}\n{c.ManifestText}\n{string.Join("\n", generatorDiagnostics.Concat(diagnostics))}";
            Assert.True(result.Results.All(r => r.Exception is null), "generator exception: " + context);
            Assert.True(generatorDiagnostics.IsEmpty, "the generator reported: " + context); // CS8785 would land here too
            Assert.True(exceptions.Count == 0, $"analyzer exception {string.Join("\n", exceptions)}: {context}");
            Assert.True(diagnostics.All(d => d.Id.StartsWith("SI", StringComparison.Ordinal)), context);
            var errors = diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error);
            var engine = GeneratorHarness.EngineTrees(result);
            var surface = GeneratorHarness.UnavailableTrees(result);
            Assert.True(engine.Count + surface.Count == 1, "not one engine or one throwing surface: " + context);
            if (surface.Count == 1)
            {
                Assert.True(errors > 0, "a throwing surface and no SI error: " + context);
                rejected++;
                if (seenSurfaces.Add(surface[0].ToString())) surfaces.Add(c);
            }
            else
            {
                Assert.True(errors == 0, "an engine despite SI errors: " + context);
                if (seen.Add(engine[0].ToString())) engines.Add(c);
            }
        }
        var checkedIn = clock.Elapsed;
        Log($"seed {seed}: all {cases.Count} inputs checked: {rejected} rejected, {engines.Count} distinct engines, {checkedIn.TotalSeconds:F1} s");
        output.WriteLine($"seed {seed}: {cases.Count} inputs, {rejected} rejected with an SI error, {cases.Count - rejected} engines ({engines.Count} distinct) in {checkedIn.TotalSeconds:F1} s; kinds: " +
                         string.Join(", ", cases.GroupBy(c => c.Kind).Select(g => $"{g.Key} {g.Count()}")));
        Assert.True(engines.Count >= Math.Min(20, count / 15), $"only {engines.Count} inputs produced engines");
        Assert.True(rejected >= count / 4, $"only {rejected} inputs were rejected: the fuzzer is too gentle");

        // Every distinct engine, in batches of one compilation each (each engine its own class, plan and manifest folder).
        foreach (var batch in engines.Chunk(CompileBatch))
        {
            var source = string.Join("\n", batch.Select(c => Source(c, $"E{c.Index}").Replace("namespace Fuzz;", "")));
            var (compiled, generatorDiagnostics, run) = GeneratorHarness.Run(GeneratorHarness.Compilation("namespace Fuzz;\n" + source), batch.SelectMany(Files));
            Assert.Equal(batch.Length, GeneratorHarness.EngineTrees(run).Count);
            Assert.Empty(generatorDiagnostics);
            var problems = GeneratorHarness.Problems(compiled);
            Assert.True(problems.Count == 0, string.Join("\n", problems.Take(10)));
            Log($"batch of {batch.Length} engines (first case {batch[0].Index}) compiled clean, {clock.Elapsed.TotalSeconds:F0} s");
        }
        output.WriteLine($"{engines.Count} engines compiled in {(clock.Elapsed - checkedIn).TotalSeconds:F1} s; total {clock.Elapsed.TotalSeconds:F1} s");

        // Every distinct throwing surface (they differ by the diagnostic they name) compiles clean too.
        foreach (var batch in surfaces.Chunk(CompileBatch))
        {
            var source = string.Join("\n", batch.Select(c => Source(c, $"E{c.Index}").Replace("namespace Fuzz;", "")));
            var (compiled, _, run) = GeneratorHarness.Run(GeneratorHarness.Compilation("namespace Fuzz;\n" + source), batch.SelectMany(Files));
            Assert.Equal(batch.Length, GeneratorHarness.UnavailableTrees(run).Count);
            var problems = GeneratorHarness.Problems(compiled);
            Assert.True(problems.Count == 0, string.Join("\n", problems.Take(10)));
        }
        output.WriteLine($"{surfaces.Count} distinct throwing surfaces compiled");
    }

    private static string Source(FuzzCase c, string className) =>
        $"namespace Fuzz;\n[SpecializedInfer.SpecializedEngine(\"fuzz/{c.Index}/{c.PlanName}\")]\npublic partial class {className};\n";

    private static IEnumerable<AdditionalText> Files(FuzzCase c) =>
    [
        new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/fuzz/{c.Index}/{c.PlanName}", c.PlanText),
        new InMemoryAdditionalText($"{GeneratorHarness.ProjectRoot}/fuzz/{c.Index}/{c.ManifestName}", c.ManifestText),
    ];
}
