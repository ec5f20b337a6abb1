using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using SpecializedInfer.Engine;
using SpecializedInfer.Evaluation;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Cli.Commands;

/// <summary>
/// <c>si eval</c>: a plan against the full model (the same GGUF without a plan) in one run. The numbers come from
/// <see cref="QualityEvaluator"/>; this command only reads the files and formats the report.
/// </summary>
public sealed class EvalCommand : ICommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public string Name => "eval";
    public string Summary => "measure a plan against the full model: agreement, KL, perplexity, speed";
    public string Usage =>
        "usage: si eval --model MODEL.gguf --plan PLAN.plan.json --prompts PROMPTS.txt [--text TEXT.txt] [-n 256]\n" +
        "               [--window 256] [--json OUT.json]\n" +
        "  Greedy agreement with the full model (teacher-forced on its continuation and free-running), mean\n" +
        "  KL(full || plan), perplexity of both on --text in windows of --window tokens, decode tokens/s of both,\n" +
        "  the plan's steps per generated token and exit counts. PROMPTS.txt has one prompt per line (blank lines\n" +
        "  are skipped). The table goes to standard output; --json also writes the report as JSON.";

    public int Run(CommandLine args, CliContext context)
    {
        var modelPath = args.RequiredString("model");
        var planPath = args.RequiredString("plan");
        var promptsPath = args.RequiredString("prompts");
        var textPath = args.String("text");
        var options = new EvaluationOptions
        {
            MaxNewTokens = args.Int("n", 256, 1, 1 << 20),
            PerplexityWindow = args.Int("window", 256, 2, 1 << 20),
        };
        var jsonPath = args.String("json");
        args.EnsureAllUsed(maxPositionals: 0);

        var prompts = ReadPrompts(promptsPath);
        var text = textPath is null ? null : ReadText(textPath);
        if (jsonPath is not null)
        {
            // Fail before the run, not after it.
            var dir = Path.GetDirectoryName(Path.GetFullPath(jsonPath))!;
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"The folder of --json {jsonPath} does not exist.");
        }

        using var full = ReferenceEngine.Load(modelPath);
        using var plan = ReferenceEngine.Load(modelPath, planPath);
        var tokenizer = LlamaTokenizer.FromGguf(full.Weights.File);
        var evaluator = new QualityEvaluator(full, plan, tokenizer, options);

        QualityReport report;
        if (context.Out.Profile.Capabilities.Interactive)
        {
            report = context.Out.Progress().AutoClear(true).Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                var progress = new SynchronousProgress(p =>
                {
                    if (!tasks.TryGetValue(p.Phase, out var task)) tasks[p.Phase] = task = ctx.AddTask(p.Phase, maxValue: p.Total);
                    task.Value = p.Done;
                });
                return evaluator.Evaluate(prompts, text, progress);
            });
        }
        else report = evaluator.Evaluate(prompts, text);

        Print(report, modelPath, planPath, promptsPath, textPath, context);
        if (jsonPath is not null)
        {
            File.WriteAllBytes(jsonPath, ToJson(report, modelPath, planPath, promptsPath, textPath));
            context.Error.WriteLine($"wrote {jsonPath}");
        }
        return ExitCodes.Success;
    }

    private static List<string> ReadPrompts(string path)
    {
        var prompts = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        if (prompts.Count == 0) throw new InvalidDataException($"{path} has no prompts (one per line).");
        return prompts;
    }

    private static string ReadText(string path)
    {
        var text = File.ReadAllText(path);
        if (string.IsNullOrWhiteSpace(text)) throw new InvalidDataException($"{path} has no text to measure perplexity on.");
        return text;
    }

    private static void Print(QualityReport r, string modelPath, string planPath, string promptsPath, string? textPath, CliContext context)
    {
        // Summary lines go out unrendered (a redirected console would wrap them at 80 columns); the table is rendered.
        var o = context.Out;
        var lines = context.Text;
        var tf = r.TeacherForced;
        var fr = r.FreeRunning;
        lines.WriteLine($"model {Path.GetFileName(modelPath)}, plan {Path.GetFileName(planPath)}: {r.PlanSchedule.Describe()}");
        lines.WriteLine(string.Create(Inv, $"{r.Prompts} prompts ({Path.GetFileName(promptsPath)}), up to {r.Options.MaxNewTokens} greedy tokens each: {tf.Positions:N0} teacher-forced positions, {fr.ComparedTokens:N0} free-running tokens compared"));
        if (r.Perplexity is { } p)
            lines.WriteLine(string.Create(Inv, $"perplexity on {Path.GetFileName(textPath)}: {p.Predictions:N0} predicted tokens in {p.Windows} windows of at most {r.Options.PerplexityWindow}"));

        var table = new Table().AddColumn("metric")
            .AddColumn(new TableColumn("full").RightAligned()).AddColumn(new TableColumn("plan").RightAligned());
        void Row(string metric, string full, string plan) => table.AddRow(new Text(metric), new Text(full), new Text(plan));

        Row("agreement, teacher-forced", "1", F(tf.Agreement, "F4"));
        Row("mean KL(full || plan), nats", "0", F(tf.MeanKl, "G4"));
        Row("max KL(full || plan), nats", "0", F(tf.MaxKl, "G4"));
        Row("identical tokens, free-running", "1", F(fr.IdenticalFraction, "F4"));
        Row("mean identical prefix, tokens", "", F(fr.MeanIdenticalPrefix, "F1"));
        Row("mean generated length, tokens", F((double)fr.FullTokens / fr.Sequences, "F1"), F((double)fr.PlanTokens / fr.Sequences, "F1"));
        if (r.Perplexity is { } ppl) Row("perplexity", F(ppl.FullPerplexity, "F4"), F(ppl.PlanPerplexity, "F4"));
        Row("decode tokens/s", F(r.Speed.Full.TokensPerSecond, "N0"), F(r.Speed.Plan.TokensPerSecond, "N0"));
        Row("decode speed vs full", "1.00×", F(r.Speed.Speedup, "F2") + "×");
        Row("steps per generated token", F(fr.FullDepth.MeanSteps, "F2") + $" of {fr.FullDepth.ScheduleSteps}", F(fr.PlanDepth.MeanSteps, "F2") + $" of {fr.PlanDepth.ScheduleSteps}");
        foreach (var exit in fr.PlanDepth.Exits)
            Row(string.Create(Inv, $"exits after step {exit.Exit.AfterStep} ({Criterion(exit.Exit)} ≥ {exit.Exit.Threshold})"), "",
                string.Create(Inv, $"{exit.Tokens:N0} ({(double)exit.Tokens / fr.PlanDepth.GeneratedTokens:P1})"));
        lines.Flush();
        o.Write(table);
    }

    private static string Criterion(Planning.ExitPoint exit) =>
        exit.Criterion == Planning.ExitCriterion.MaxProbability ? "max p" : exit.Criterion.ToString();

    private static string F(double value, string format) => double.IsNaN(value) ? "n/a" : value.ToString(format, Inv);

    /// <summary>The report as JSON; every rate is also given as its counts so nothing needs re-deriving.</summary>
    internal static byte[] ToJson(QualityReport r, string modelPath, string planPath, string promptsPath, string? textPath)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", Path.GetFullPath(modelPath));
            w.WriteString("plan", Path.GetFullPath(planPath));
            w.WriteString("planSchedule", r.PlanSchedule.Describe());
            w.WriteString("prompts", Path.GetFullPath(promptsPath));
            w.WriteNumber("promptCount", r.Prompts);
            w.WriteNumber("maxNewTokens", r.Options.MaxNewTokens);
            w.WriteBoolean("stopAtEos", r.Options.StopAtEos);

            var tf = r.TeacherForced;
            w.WriteStartObject("teacherForced");
            w.WriteNumber("positions", tf.Positions);
            w.WriteNumber("agreements", tf.Agreements);
            Number(w, "agreement", tf.Agreement);
            Number(w, "meanKl", tf.MeanKl);
            Number(w, "maxKl", tf.MaxKl);
            w.WriteEndObject();

            var fr = r.FreeRunning;
            w.WriteStartObject("freeRunning");
            w.WriteNumber("sequences", fr.Sequences);
            w.WriteNumber("comparedTokens", fr.ComparedTokens);
            w.WriteNumber("identicalTokens", fr.IdenticalTokens);
            Number(w, "identicalFraction", fr.IdenticalFraction);
            Number(w, "meanIdenticalPrefix", fr.MeanIdenticalPrefix);
            w.WriteNumber("fullTokens", fr.FullTokens);
            w.WriteNumber("planTokens", fr.PlanTokens);
            w.WriteEndObject();

            if (r.Perplexity is { } ppl)
            {
                w.WriteStartObject("perplexity");
                w.WriteString("text", Path.GetFullPath(textPath!));
                w.WriteNumber("window", r.Options.PerplexityWindow);
                w.WriteNumber("tokens", ppl.Tokens);
                w.WriteNumber("windows", ppl.Windows);
                w.WriteNumber("predictions", ppl.Predictions);
                Number(w, "full", ppl.FullPerplexity);
                Number(w, "plan", ppl.PlanPerplexity);
                Number(w, "fullMeanNll", ppl.FullMeanNll);
                Number(w, "planMeanNll", ppl.PlanMeanNll);
                w.WriteEndObject();
            }
            else w.WriteNull("perplexity");

            w.WriteStartObject("speed");
            Speed(w, "full", r.Speed.Full);
            Speed(w, "plan", r.Speed.Plan);
            Number(w, "speedup", r.Speed.Speedup);
            w.WriteEndObject();

            Depth(w, "fullDepth", fr.FullDepth);
            Depth(w, "planDepth", fr.PlanDepth);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void Speed(Utf8JsonWriter w, string name, DecodeSpeed s)
    {
        w.WriteStartObject(name);
        w.WriteNumber("decodeSteps", s.Steps);
        Number(w, "seconds", s.Seconds);
        Number(w, "tokensPerSecond", s.TokensPerSecond);
        w.WriteEndObject();
    }

    private static void Depth(Utf8JsonWriter w, string name, DepthStatistics d)
    {
        w.WriteStartObject(name);
        w.WriteNumber("scheduleSteps", d.ScheduleSteps);
        w.WriteNumber("generatedTokens", d.GeneratedTokens);
        Number(w, "meanSteps", d.MeanSteps);
        w.WriteStartArray("stepsHistogram");
        foreach (var n in d.StepsHistogram) w.WriteNumberValue(n);
        w.WriteEndArray();
        w.WriteStartArray("exits");
        foreach (var e in d.Exits)
        {
            w.WriteStartObject();
            w.WriteNumber("afterStep", e.Exit.AfterStep);
            w.WriteString("criterion", e.Exit.Criterion.ToString());
            w.WriteNumber("threshold", e.Exit.Threshold);
            w.WriteNumber("tokens", e.Tokens);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>JSON has no NaN or infinity: those are written as null.</summary>
    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteNull(name);
    }

    /// <summary>Reports on the calling thread (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class SynchronousProgress(Action<EvaluationProgress> report) : IProgress<EvaluationProgress>
    {
        public void Report(EvaluationProgress value) => report(value);
    }
}
