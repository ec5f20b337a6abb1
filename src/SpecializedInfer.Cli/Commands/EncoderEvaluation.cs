using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using SpecializedInfer.Cli.Engines;
using SpecializedInfer.Encoders;
using SpecializedInfer.Gguf;
using SpecializedInfer.Evaluation;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Cli.Commands;

/// <summary>
/// <c>si eval</c> on an encoder (a bert GGUF): each plan's sentence embeddings against the full model's on a corpus
/// (<c>--text</c>, one sentence per line) and queries (<c>--prompts</c>). The numbers come from
/// <see cref="EmbeddingEvaluator"/> over the embedding generators of the encoders the <see cref="EngineFactory"/>
/// loads (the reference encoder, or with <c>--engine generated</c> the plans' generated encoders and the full
/// model's); this class reads the files and formats the report as the decoder evaluation does.
/// </summary>
internal static class EncoderEvaluation
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public const int K = 10;

    /// <summary>
    /// Measures the plans at <paramref name="planPaths"/> on the encoder in <paramref name="model"/>, open already: its
    /// header is read once, checked before the corpus is read, and every plan checked against it before anything runs.
    /// </summary>
    public static int Run(EngineFactory factory, GgufFile model, IReadOnlyList<string> planPaths, string queriesPath, string? corpusPath,
        string? jsonPath, bool markdown, int threads, CliContext context)
    {
        var config = BertConfig.FromGguf(model);
        var modelPath = model.FilePath;
        if (corpusPath is null)
            throw new UsageException("An encoder is measured on a corpus: give --text CORPUS.txt (one sentence per line) and --prompts QUERIES.txt (one query per line).");
        var queries = EvalCommand.ReadPrompts(queriesPath);
        var corpus = EvalCommand.ReadText(corpusPath).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        if (corpus.Count < K)
            throw new InvalidDataException($"{corpusPath} has {corpus.Count} sentences; recall@{K} needs a corpus of at least {K} (one sentence per line).");

        // Every plan is read before anything runs (or compiles), so a bad plan fails at once.
        var plans = planPaths.Select(p => BertManifest.LoadPlanFile(p, config)).ToList();
        using var full = factory.LoadEncoderFull(model, plans[0], threads);
        if (full.Build is { } fullBuild) context.Error.WriteLine(fullBuild.Describe());
        var rows = new List<(string Plan, ExecutionSchedule Schedule, EmbeddingReport Report)>();
        for (var i = 0; i < planPaths.Count; i++)
        {
            using var plan = factory.LoadEncoder(model, plans[i], threads);
            if (plan.Build is { } build) context.Error.WriteLine(build.Describe());
            rows.Add((planPaths[i], plan.Schedule, new EmbeddingEvaluator(full.Generator, plan.Generator, K).Evaluate(corpus, queries)));
            if (planPaths.Count > 1) context.Error.WriteLine($"measured {planPaths[i]}");
        }

        var speedOf = EngineWords(full);
        var lines = context.Text;
        lines.WriteLine(string.Create(Inv, $"model {Path.GetFileName(modelPath)} (encoder, {config.Layers} layers); {corpus.Count} corpus sentences ({Path.GetFileName(corpusPath)}), {queries.Count} queries ({Path.GetFileName(queriesPath)}); recall@{K} against the full model's {K} nearest; speed of the {speedOf} over the corpus"));
        if (rows.Count == 1)
        {
            var (planPath, schedule, report) = rows[0];
            lines.WriteLine($"plan {Path.GetFileName(planPath)}: {schedule.Describe()}");
            lines.Flush();
            Print(report, schedule, config.Layers, speedOf, context);
            if (jsonPath is not null)
            {
                File.WriteAllBytes(jsonPath, ToJson(report, schedule, full, modelPath, planPath, corpusPath, queriesPath));
                context.Error.WriteLine($"wrote {jsonPath}");
            }
            return ExitCodes.Success;
        }

        string[] header = ["plan", "what it does", "steps / sentence", "mean cosine", "min cosine", $"recall@{K}", "sentences/s", "speed vs full"];
        var cells = rows.Select(r => new[]
        {
            Path.GetFileName(r.Plan).Replace(".plan.json", ""), r.Schedule.Describe(), EvalCommand.F(r.Report.MeanSteps, "F2"),
            EvalCommand.F(r.Report.MeanCosine, "F4"), EvalCommand.F(r.Report.MinCosine, "F4"), EvalCommand.F(r.Report.Recall, "F4"),
            EvalCommand.F(r.Report.Plan.SentencesPerSecond, "N0"), EvalCommand.F(r.Report.Speedup, "F2") + "×",
        }).ToList();
        if (markdown)
        {
            lines.WriteLine("| " + string.Join(" | ", header) + " |");
            lines.WriteLine("|---|---|" + string.Concat(Enumerable.Repeat("---:|", header.Length - 2)));
            foreach (var c in cells) lines.WriteLine("| " + string.Join(" | ", c.Select(x => x.Replace("|", "\\|"))) + " |");
            lines.Flush();
            return ExitCodes.Success;
        }
        lines.Flush();
        var table = new Table();
        foreach (var (h, i) in header.Select((h, i) => (h, i))) table.AddColumn(i >= 2 ? new TableColumn(h).RightAligned() : new TableColumn(h));
        foreach (var c in cells) table.AddRow(c.Select(x => new Text(x)).ToArray());
        context.Out.Write(table);
        return ExitCodes.Success;
    }

    /// <summary>"reference encoder (1 thread)" or "generated encoders (2 threads)": what the speed columns measured.</summary>
    private static string EngineWords(LoadedEncoder full) =>
        (full.Kind == EngineKind.Reference ? "reference encoder" : "generated encoders") +
        string.Create(Inv, $" ({full.Threads} thread{(full.Threads == 1 ? "" : "s")})");

    private static void Print(EmbeddingReport r, ExecutionSchedule schedule, int layers, string speedOf, CliContext context)
    {
        var table = new Table().AddColumn("metric")
            .AddColumn(new TableColumn("full").RightAligned()).AddColumn(new TableColumn("plan").RightAligned());
        void Row(string metric, string full, string plan) => table.AddRow(new Text(metric), new Text(full), new Text(plan));
        Row("mean cosine to the full model's embedding", "1", EvalCommand.F(r.MeanCosine, "F4"));
        Row("min cosine to the full model's embedding", "1", EvalCommand.F(r.MinCosine, "F4"));
        Row($"recall@{r.K} of the full model's nearest neighbours", "1", EvalCommand.F(r.Recall, "F4"));
        Row("steps per sentence", $"{layers}.00 of {layers}", EvalCommand.F(r.MeanSteps, "F2") + $" of {schedule.Steps.Count}");
        Row($"sentences/s, {speedOf}", EvalCommand.F(r.Full.SentencesPerSecond, "N0"), EvalCommand.F(r.Plan.SentencesPerSecond, "N0"));
        Row("speed vs full", "1.00×", EvalCommand.F(r.Speedup, "F2") + "×");
        context.Out.Write(table);
    }

    private static byte[] ToJson(EmbeddingReport r, ExecutionSchedule schedule, LoadedEncoder full, string modelPath, string planPath, string corpusPath, string queriesPath)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", Path.GetFullPath(modelPath));
            w.WriteString("plan", Path.GetFullPath(planPath));
            w.WriteString("planSchedule", schedule.Describe());
            w.WriteString("engine", full.Kind == EngineKind.Reference ? "reference" : "generated");
            w.WriteNumber("threads", full.Threads);
            w.WriteString("corpus", Path.GetFullPath(corpusPath));
            w.WriteNumber("corpusSentences", r.CorpusSize);
            w.WriteString("queries", Path.GetFullPath(queriesPath));
            w.WriteNumber("queryCount", r.Queries);
            w.WriteNumber("k", r.K);
            EvalCommand.Number(w, "meanCosine", r.MeanCosine);
            EvalCommand.Number(w, "minCosine", r.MinCosine);
            EvalCommand.Number(w, "recall", r.Recall);
            EvalCommand.Number(w, "meanSteps", r.MeanSteps);
            w.WriteStartObject("speed");
            foreach (var (name, s) in new[] { ("full", r.Full), ("plan", r.Plan) })
            {
                w.WriteStartObject(name);
                w.WriteNumber("sentences", s.Sentences);
                EvalCommand.Number(w, "seconds", s.Seconds);
                EvalCommand.Number(w, "sentencesPerSecond", s.SentencesPerSecond);
                w.WriteEndObject();
            }
            EvalCommand.Number(w, "speedup", r.Speedup);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }
}
