using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using SpecializedInfer.Cli.Engines;
using SpecializedInfer.Engine;
using SpecializedInfer.Evaluation;
using SpecializedInfer.Gguf;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Cli.Commands;

/// <summary>
/// <c>si eval</c>: a plan against the full model (the same GGUF without a plan) in one run. The numbers come from
/// <see cref="QualityEvaluator"/>; this command only reads the files and formats the report.
/// </summary>
public sealed class EvalCommand : Command
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private readonly CliContext _context;
    private readonly Option<string> _model = CliOptions.RequiredPath("--model", "MODEL.gguf", "The GGUF model; without a plan it is the full model measured against.");
    private readonly Option<string[]> _plans = CliOptions.RepeatedPaths("--plan", "PLAN.plan.json", "A layer plan to measure; give several for one summary row each.");
    private readonly Option<string> _prompts = CliOptions.RequiredPath("--prompts", "PROMPTS.txt", "One prompt per line (blank lines are skipped); for an encoder, one query per line.");
    private readonly Option<string?> _text = CliOptions.OptionalPath("--text", "TEXT.txt", "A text to measure the perplexity of both on; for an encoder, the corpus, one sentence per line.");
    private readonly Option<int> _count = CliOptions.Whole("-n", "N", "Greedy tokens generated per prompt.", 256, 1, 1 << 20);
    private readonly Option<int> _window = CliOptions.Whole("--window", "N", "Perplexity window in tokens.", 256, 2, 1 << 20);
    private readonly Option<string?> _json = CliOptions.OptionalPath("--json", "OUT.json", "Write the report of one plan as JSON.");
    private readonly Option<bool> _markdown = CliOptions.Flag("--markdown", "Print the summary of several plans as a Markdown table.");
    private readonly Option<string?> _engine = CliOptions.Engine();
    private readonly Option<int?> _threads = CliOptions.Threads();

    public EvalCommand(CliContext context)
        : base("eval", "Measure a plan against the full model: agreement, KL, perplexity, speed.\n" +
                       "Greedy agreement with the full model (teacher-forced on its continuation and free-running), mean\n" +
                       "KL(full || plan), perplexity of both on --text in windows of --window tokens, decode tokens/s of both,\n" +
                       "the plan's steps per generated token, exits, skips, recomputed steps and draft acceptance. With one\n" +
                       "--plan the table goes to standard output and --json writes the report; with several, one summary row\n" +
                       "per plan (--markdown: as a Markdown table). --engine generated measures the generated engines of the plan\n" +
                       "and of the full model (compiled in-process the first time and cached) instead of the reference engine.\n" +
                       "On an encoder (a bert GGUF from si convert --onnx): the mean and smallest cosine of each plan's sentence\n" +
                       "embeddings to the full model's over the --text corpus and the --prompts queries, recall@10 of the plan's\n" +
                       "nearest corpus sentences for each query against the full model's, steps per sentence, and sentences/s of\n" +
                       "both over the corpus (-n and --window apply to decoders only).")
    {
        _context = context;
        foreach (var option in new Option[] { _model, _plans, _prompts, _text, _count, _window, _json, _markdown, _engine, _threads }) Options.Add(option);
        Validators.Add(result =>
        {
            var plans = result.GetResult(_plans)?.Tokens.Count ?? 0;
            if (result.GetResult(_json) is not null && plans > 1) result.AddError("--json writes one plan's report; give one --plan.");
            if (result.GetResult(_markdown) is not null && plans == 1) result.AddError("--markdown prints the summary of several plans; give more than one --plan.");
        });
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var context = _context;
        var modelPath = ModelArgument.Resolve(args.GetRequiredValue(_model), _context);
        var planPaths = args.GetRequiredValue(_plans);
        var markdown = args.GetValue(_markdown);
        var promptsPath = args.GetRequiredValue(_prompts);
        var textPath = args.GetValue(_text);
        var options = new EvaluationOptions { MaxNewTokens = args.GetValue(_count), PerplexityWindow = args.GetValue(_window), Threads = args.GetValue(_threads) ?? 0 };
        var jsonPath = args.GetValue(_json);

        if (jsonPath is not null)
        {
            // Fail before the run, not after it.
            var dir = Path.GetDirectoryName(Path.GetFullPath(jsonPath))!;
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"The folder of --json {jsonPath} does not exist.");
        }

        using (var file = GgufFile.Open(modelPath))
        {
            // An encoder is measured from this open file (its header is read once); a decoder's engines map the file themselves.
            if (EngineFactory.IsEncoder(file))
            {
                var encoders = new EngineFactory(EngineKinds.Parse(args.GetValue(_engine)), context.EngineCache);
                return EncoderEvaluation.Run(encoders, file, planPaths, promptsPath, textPath, jsonPath, markdown, options.Threads, context);
            }
        }

        // The full model is bound by the first plan's manifest, so a manifest that renames tensors reads the file too.
        var prompts = ReadPrompts(promptsPath);
        var text = textPath is null ? null : ReadText(textPath);
        var factory = new EngineFactory(EngineKinds.Parse(args.GetValue(_engine)), context.EngineCache);
        var firstPlan = PlanLoader.Load(planPaths[0]);
        using var full = factory.LoadFull(modelPath, firstPlan);
        if (full.Build is { } fullBuild) context.Error.WriteLine(fullBuild.Describe());
        var tokenizer = Tokenizers.FromGguf(modelPath);
        if (planPaths.Length > 1) return RunSummary(factory, full, tokenizer, modelPath, planPaths, prompts, promptsPath, text, textPath, options, markdown, context);
        var planPath = planPaths[0];
        using var plan = factory.Load(modelPath, firstPlan);
        if (plan.Build is { } planBuild) context.Error.WriteLine(planBuild.Describe());
        var evaluator = new QualityEvaluator(full.Engine, plan.Engine, tokenizer, options);

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

        Print(report, factory.Kind, modelPath, planPath, promptsPath, textPath, context);
        if (jsonPath is not null)
        {
            File.WriteAllBytes(jsonPath, ToJson(report, factory.Kind, modelPath, planPath, promptsPath, textPath));
            context.Error.WriteLine($"wrote {jsonPath}");
        }
        return ExitCodes.Success;
    }

    /// <summary>Several plans against one full model: one row each, every plan measured exactly as a single run would.</summary>
    private static int RunSummary(EngineFactory factory, LoadedEngine full, ITokenizer tokenizer, string modelPath, IReadOnlyList<string> planPaths,
        List<string> prompts, string promptsPath, string? text, string? textPath, EvaluationOptions options, bool markdown, CliContext context)
    {
        var rows = new List<(string Plan, QualityReport Report)>();
        foreach (var planPath in planPaths)
        {
            using var plan = factory.Load(modelPath, planPath);
            if (plan.Build is { } build) context.Error.WriteLine(build.Describe());
            rows.Add((Path.GetFileName(planPath), new QualityEvaluator(full.Engine, plan.Engine, tokenizer, options).Evaluate(prompts, text)));
            context.Error.WriteLine($"measured {planPath}");
        }
        var lines = context.Text;
        lines.WriteLine($"model {Path.GetFileName(modelPath)}; {prompts.Count} prompts ({Path.GetFileName(promptsPath)}), up to {options.MaxNewTokens} greedy tokens each" +
                        (textPath is null ? "" : $"; perplexity on {Path.GetFileName(textPath)} (full model {F(rows[0].Report.Perplexity!.FullPerplexity, "F3")})") +
                        $"; speed of the {EngineWords(factory.Kind)}");
        string[] header = ["plan", "what it does", "steps / token", "agreement, teacher-forced", "mean KL (nats)", "identical, free-running", "identical prefix", "perplexity", "decode speed vs full", "exits / skips / drafts"];
        var cells = rows.Select(r => SummaryCells(r.Plan, r.Report)).ToList();
        if (markdown)
        {
            lines.WriteLine("| " + string.Join(" | ", header) + " |");
            lines.WriteLine("|---|---|" + string.Concat(Enumerable.Repeat("---:|", header.Length - 3)) + "---|");
            foreach (var c in cells) lines.WriteLine("| " + string.Join(" | ", c.Select(x => x.Replace("|", "\\|"))) + " |");
            lines.Flush();
            return ExitCodes.Success;
        }
        lines.Flush();
        var table = new Table();
        foreach (var (h, i) in header.Select((h, i) => (h, i))) table.AddColumn(i is >= 2 and <= 8 ? new TableColumn(h).RightAligned() : new TableColumn(h));
        foreach (var c in cells) table.AddRow(c.Select(x => new Text(x)).ToArray());
        context.Out.Write(table);
        return ExitCodes.Success;
    }

    private static string[] SummaryCells(string plan, QualityReport r)
    {
        var d = r.FreeRunning.PlanDepth;
        return
        [
            plan.Replace(".plan.json", ""),
            r.PlanSchedule.Describe(),
            F(d.MeanSteps, "F2"),
            F(r.TeacherForced.Agreement, "F4"),
            F(r.TeacherForced.MeanKl, "G3"),
            F(r.FreeRunning.IdenticalFraction, "F4"),
            F(r.FreeRunning.MeanIdenticalPrefix, "F1"),
            r.Perplexity is { } p ? F(p.PlanPerplexity, "G4") : "",
            F(r.Speed.Speedup, "F2") + "×",
            DynamicSummary(d),
        ];
    }

    /// <summary>"exits 21% · skips 12% · drafts 3,100 (71% accepted)": what the plan's dynamic parts did, per generated token.</summary>
    private static string DynamicSummary(DepthStatistics d)
    {
        var parts = new List<string>();
        if (d.GeneratedTokens > 0 && d.Exits.Count > 0 && d.DraftedTokens == 0) parts.Add(string.Create(Inv, $"exits {Percent((double)d.Exits.Sum(e => e.Tokens) / d.GeneratedTokens)}"));
        if (d.GeneratedTokens > 0 && d.SkipsPerStep.Any(s => s > 0)) parts.Add(string.Create(Inv, $"skips {(double)d.SkipsPerStep.Sum() / d.GeneratedTokens:F2}/token"));
        if (d.RecomputedSteps > 0) parts.Add(string.Create(Inv, $"recomputed {(double)d.RecomputedSteps / d.GeneratedTokens:F2} steps/token"));
        if (d.DraftedTokens > 0) parts.Add(string.Create(Inv, $"drafts {d.DraftedTokens:N0} ({Percent(d.AcceptanceRate)} accepted)"));
        return string.Join(" · ", parts);
    }

    private static string Percent(double fraction) => (fraction * 100).ToString("F0", Inv) + "%";

    /// <summary>
    /// The most a prompts or text file may hold. Both are read whole and tokenized: a bound keeps a device such as
    /// <c>/dev/zero</c> or a mistaken multi-gigabyte file from exhausting memory; a real evaluation set is far smaller.
    /// </summary>
    internal const long MaxInputBytes = 16 << 20;

    internal static List<string> ReadPrompts(string path)
    {
        var prompts = ReadInput(path, "--prompts").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        if (prompts.Count == 0) throw new InvalidDataException($"{path} has no prompts (one per line).");
        return prompts;
    }

    internal static string ReadText(string path)
    {
        var text = ReadInput(path, "--text");
        if (string.IsNullOrWhiteSpace(text)) throw new InvalidDataException($"{path} has no text to measure perplexity on.");
        return text;
    }

    /// <summary>A whole prompts or text file as UTF-8 (a byte order mark honoured), within <see cref="MaxInputBytes"/>.</summary>
    private static string ReadInput(string path, string option)
    {
        var bytes = BoundedFile.ReadAllBytes(path, MaxInputBytes, length => new InvalidDataException(length is { } n
            ? string.Create(Inv, $"{path} (given to {option}) is {n:N0} bytes; si eval reads prompt and text files of at most {MaxInputBytes >> 20} MiB.")
            : $"{path} (given to {option}) is not a regular file (a device, a pipe, or a file that changed while it was read); si eval reads prompts and text from regular files."));
        using var reader = new StreamReader(new MemoryStream(bytes), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    /// <summary>Which executor the speed figures are of.</summary>
    private static string EngineWords(EngineKind kind) => kind == EngineKind.Reference ? "reference engine" : "generated engines";

    private static void Print(QualityReport r, EngineKind kind, string modelPath, string planPath, string promptsPath, string? textPath, CliContext context)
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
        Row($"decode tokens/s, {EngineWords(kind)}", F(r.Speed.Full.TokensPerSecond, "N0"), F(r.Speed.Plan.TokensPerSecond, "N0"));
        Row("decode speed vs full", "1.00×", F(r.Speed.Speedup, "F2") + "×");
        Row("steps per generated token", F(fr.FullDepth.MeanSteps, "F2") + $" of {fr.FullDepth.ScheduleSteps}", F(fr.PlanDepth.MeanSteps, "F2") + $" of {fr.PlanDepth.ScheduleSteps}");
        foreach (var exit in fr.PlanDepth.Exits)
            Row(string.Create(Inv, $"exits after step {exit.Exit.AfterStep} ({exit.Exit.Test.Describe()})"), "",
                string.Create(Inv, $"{exit.Tokens:N0} ({(double)exit.Tokens / fr.PlanDepth.GeneratedTokens:P1})"));
        var skips = fr.PlanDepth.SkipsPerStep;
        for (var s = 0; s < skips.Count; s++)
            if (r.PlanSchedule.Steps[s].Skip is not null)
                Row(string.Create(Inv, $"skips of step {s} (layer {r.PlanSchedule.Steps[s].Layer})"), "",
                    string.Create(Inv, $"{skips[s]:N0} ({(double)skips[s] / fr.PlanDepth.GeneratedTokens:P1})"));
        if (fr.PlanDepth.RecomputedSteps > 0) Row("steps recomputed for exited positions", "", string.Create(Inv, $"{fr.PlanDepth.RecomputedSteps:N0}"));
        if (fr.PlanDepth.DraftedTokens > 0)
            Row("drafted tokens, accepted", "", string.Create(Inv, $"{fr.PlanDepth.DraftedTokens:N0}, {fr.PlanDepth.AcceptedDrafts:N0} ({fr.PlanDepth.AcceptanceRate:P1}) in {fr.PlanDepth.VerificationPasses:N0} verifications"));
        lines.Flush();
        o.Write(table);
    }

    internal static string F(double value, string format) => double.IsNaN(value) ? "n/a" : value.ToString(format, Inv);

    /// <summary>The report as JSON; every rate is also given as its counts so nothing needs re-deriving.</summary>
    internal static byte[] ToJson(QualityReport r, EngineKind kind, string modelPath, string planPath, string promptsPath, string? textPath)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", Path.GetFullPath(modelPath));
            w.WriteString("plan", Path.GetFullPath(planPath));
            w.WriteString("planSchedule", r.PlanSchedule.Describe());
            w.WriteString("engine", kind == EngineKind.Reference ? "reference" : "generated");
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
            w.WriteString("test", e.Exit.Test.Describe());
            w.WriteNumber("tokens", e.Tokens);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("skipsPerStep");
        foreach (var n in d.SkipsPerStep) w.WriteNumberValue(n);
        w.WriteEndArray();
        w.WriteNumber("recomputedSteps", d.RecomputedSteps);
        w.WriteNumber("verificationPasses", d.VerificationPasses);
        w.WriteNumber("draftedTokens", d.DraftedTokens);
        w.WriteNumber("acceptedDrafts", d.AcceptedDrafts);
        w.WriteEndObject();
    }

    /// <summary>JSON has no NaN or infinity: those are written as null.</summary>
    internal static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteNull(name);
    }

    /// <summary>Reports on the calling thread (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    internal sealed class SynchronousProgress(Action<EvaluationProgress> report) : IProgress<EvaluationProgress>
    {
        public void Report(EvaluationProgress value) => report(value);
    }
}
