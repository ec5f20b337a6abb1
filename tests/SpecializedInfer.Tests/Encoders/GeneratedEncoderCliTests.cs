using System.Globalization;
using System.Text.Json;
using SpecializedInfer.Cli;
using SpecializedInfer.Encoders;
using SpecializedInfer.Gguf;
using SpecializedInfer.Tests.Plans;
using Si = SpecializedInfer.Tests.Cli.Si;

namespace SpecializedInfer.Tests.Encoders;

/// <summary>
/// <c>si run</c> and <c>si eval</c> on the converted MiniLM with <c>--engine generated</c>: the plan's generated
/// encoder (and the full model's) compiled in-process through the engine factory and cache decoders use. Its figures
/// are the reference encoder's within the generated-encoder tests' tolerance (1e-5); <c>si run</c> prints the
/// prompt's embedding, the reference encoder's bits with <c>--engine reference</c>.
/// </summary>
[Collection(MiniLmCollection.Name)]
public sealed class GeneratedEncoderCliTests(MiniLm m) : IDisposable
{
    private const double Tolerance = 1e-5;

    private readonly string _cache = Directory.CreateTempSubdirectory("si-encoder-cache-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_cache, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static string EvalPlans => Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "eval", "plans");

    private static float[] Embedding(string stdout) =>
        [.. JsonSerializer.Deserialize<double[]>(stdout.Trim())!.Select(v => (float)v)];

    private static double Worst(float[] a, float[] b) => a.Zip(b).Max(p => Math.Abs((double)p.First - p.Second));

    [Fact]
    public void Eval_of_the_generated_encoders_gives_the_reference_encoders_figures()
    {
        // The project's exit plan: sentences leave after different steps, so steps per sentence are compared too.
        var eval = Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "eval");
        var corpusPath = Path.Combine(m.Directory_, "corpus60.txt");
        var queriesPath = Path.Combine(m.Directory_, "queries10.txt");
        File.WriteAllLines(corpusPath, File.ReadAllLines(Path.Combine(eval, "corpus.txt")).Take(60));
        File.WriteAllLines(queriesPath, File.ReadAllLines(Path.Combine(eval, "queries.txt")).Take(10));
        var plan = Path.Combine(EvalPlans, "minilm.exit93.plan.json");
        JsonElement Report(string engine)
        {
            var json = Path.Combine(m.Directory_, $"exit93.{engine}.json");
            var (code, text, err) = Si.RunCaching(_cache, "eval", "--model", m.GgufPath, "--plan", plan, "--prompts", queriesPath,
                "--text", corpusPath, "--json", json, "--engine", engine, "--threads", "2");
            Assert.True(code == ExitCodes.Success, err);
            Assert.Contains(engine == "generated" ? "speed of the generated encoders (2 threads)" : "speed of the reference encoder (1 thread)", text);
            if (engine == "generated")
            {
                Assert.Contains("generated engine MinilmFullModel compiled in ", err);
                Assert.Contains("generated engine MinilmExit93 compiled in ", err);
            }
            using var document = JsonDocument.Parse(File.ReadAllBytes(json));
            return document.RootElement.Clone();
        }

        var reference = Report("reference");
        var generated = Report("generated");
        Assert.Equal("generated", generated.GetProperty("engine").GetString());
        Assert.Equal(2, generated.GetProperty("threads").GetInt32());
        foreach (var figure in new[] { "meanCosine", "minCosine" })
        {
            var (r, g) = (reference.GetProperty(figure).GetDouble(), generated.GetProperty(figure).GetDouble());
            Assert.True(Math.Abs(r - g) <= Tolerance, $"{figure}: generated {g}, reference {r}");
        }
        Assert.Equal(reference.GetProperty("recall").GetDouble(), generated.GetProperty("recall").GetDouble());
        Assert.Equal(reference.GetProperty("meanSteps").GetDouble(), generated.GetProperty("meanSteps").GetDouble());
        // The exits decided something: some sentences left early, some ran all six steps.
        Assert.InRange(reference.GetProperty("meanSteps").GetDouble(), 1.01, 5.99);
    }

    [Fact]
    public void Run_prints_the_prompts_embedding_with_either_engine()
    {
        const string prompt = "How do I fix a dripping tap?";
        var expected = m.Encoder.Embed([prompt])[0];
        var (code, text, err) = Si.RunCaching(_cache, "run", "--model", m.GgufPath, "--prompt", prompt);
        Assert.True(code == ExitCodes.Success, err);
        Assert.Equal(expected, Embedding(text));
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("reference encoder, the full model (no plan)", lines[0]);
        Assert.Matches($@"^{m.Encoder.Tokenizer.Encode(prompt).Length} tokens \(\[CLS\] and \[SEP\] included\), 6 of 6 steps, embedding of 384 dimensions in [0-9.]+ ms", lines[1]);

        (code, text, err) = Si.RunCaching(_cache, "run", "--model", m.GgufPath, "--prompt", prompt, "--engine", "generated", "--threads", "2");
        Assert.True(code == ExitCodes.Success, err);
        var generated = Embedding(text);
        Assert.Equal(384, generated.Length);
        Assert.True(Worst(expected, generated) <= Tolerance, $"largest difference from the reference encoder {Worst(expected, generated)}");
        Assert.Contains("generated encoder MinilmFullModel, the full model (no plan)", err);

        // Under a plan: the first three layers, as the reference encoder runs them.
        var plan = m.Plan("depth3", "\"order\": [0, 1, 2]");
        var depth3 = new BertEncoder(m.Weights, BertManifest.LoadPlan(plan, m.Weights.Config)).Embed([prompt])[0];
        (code, text, err) = Si.RunCaching(_cache, "run", "--model", m.GgufPath, "--prompt", prompt, "--plan", plan, "--engine", "generated");
        Assert.True(code == ExitCodes.Success, err);
        Assert.True(Worst(depth3, Embedding(text)) <= Tolerance);
        Assert.Contains("generated encoder Depth3, plan depth3.plan.json: 3 steps [0 1 2]", err);
        Assert.Contains("3 of 3 steps", err);
    }

    [Theory]
    [InlineData("reference", false)]
    [InlineData("generated", false)]
    [InlineData("reference", true)]
    [InlineData("generated", true)]
    public void A_malformed_encoder_fails_with_its_typed_error_before_a_plan_is_read_or_an_engine_compiled(string engine, bool withPlan)
    {
        var (path, offset) = SevenHeads();
        string[] args = ["run", "--model", path, "--prompt", "a tap", "--engine", engine];
        if (withPlan) args = [.. args, "--plan", Path.Combine(m.Directory_, "no-such.plan.json")];
        var (code, text, err) = Si.RunCaching(_cache, args);
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Equal("", text);
        Assert.Equal($"error: {path}: at byte offset {offset}: expected a head count dividing the embedding length 384, found 7", err.TrimEnd());
        Assert.Empty(Directory.EnumerateFiles(_cache));
    }

    /// <summary>MiniLM's metadata with 7 heads, which do not divide its 384 dimensions (and no tensors: the header fails first), and the offset of that count.</summary>
    private (string Path, long Offset) SevenHeads()
    {
        var path = Path.Combine(m.Directory_, "seven-heads.gguf");
        using (var file = GgufFile.Open(m.GgufPath))
        {
            var writer = new GgufWriter();
            foreach (var (key, value) in file.Metadata) writer.Add(key, key == BertConfig.Keys.HeadCount ? GgufValue.Of(7u) : value);
            writer.Write(path);
        }
        using var written = GgufFile.Open(path);
        return (path, written.Find(BertConfig.Keys.HeadCount)!.Offset);
    }

    [Theory]
    [InlineData("reference")]
    [InlineData("generated")]
    public void Eval_of_a_malformed_encoder_fails_once_with_its_typed_error_before_its_queries_corpus_or_plan_are_read(string engine)
    {
        // The command reads the header once, to tell an encoder from a decoder, and checks it there: none of the other
        // files exists, and the model's is the one error printed.
        var (path, offset) = SevenHeads();
        var missing = Path.Combine(m.Directory_, "no-such");
        var (code, text, err) = Si.RunCaching(_cache, "eval", "--model", path, "--plan", missing + ".plan.json", "--prompts", missing + ".queries.txt",
            "--text", missing + ".corpus.txt", "--engine", engine);
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Equal("", text);
        Assert.Equal($"error: {path}: at byte offset {offset}: expected a head count dividing the embedding length 384, found 7", err.TrimEnd());
        Assert.Empty(Directory.EnumerateFiles(_cache));
    }

    [Theory]
    [InlineData("reference")]
    [InlineData("generated")]
    public void A_plan_an_encoder_cannot_run_fails_with_the_same_error_on_either_engine(string engine)
    {
        var plan = m.Plan("decode-depth", "\"decodeDepth\": 3");
        var (code, text, err) = Si.RunCaching(_cache, "run", "--model", m.GgufPath, "--prompt", "a tap", "--plan", plan, "--engine", engine);
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Equal("", text);
        Assert.StartsWith("error: ", err);
        Assert.Contains("decodeDepth", err);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Empty(Directory.EnumerateFiles(_cache));
    }
}
