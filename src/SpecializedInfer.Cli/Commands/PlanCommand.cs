using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using SpecializedInfer.Analysis;
using SpecializedInfer.Cli.Engines;
using SpecializedInfer.Engine;
using SpecializedInfer.Evaluation;
using SpecializedInfer.Learning.Calibration;
using SpecializedInfer.Learning.Search;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Tokenization;
using SpecializedInfer.Tracing;

namespace SpecializedInfer.Cli.Commands;

/// <summary>
/// <c>si plan</c>: searches the plan space for the fastest plan that keeps a target agreement (<see cref="PlanSearch"/>),
/// measuring speed with generated engines (<see cref="CandidateSpeedMeter"/>), then measures the plan it picked on
/// held-out prompts and writes it.
/// </summary>
public sealed class PlanCommand : Command
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private readonly CliContext _context;
    private readonly Option<string> _model = CliOptions.RequiredPath("--model", "MODEL.gguf", "The GGUF model to find a plan for (the copy with exit heads from si learn-exits to try learned heads).");
    private readonly Option<double> _target = CliOptions.Between("--target-agreement", "A", "The teacher-forced agreement with the full model a plan must keep.", 0.98, 0, 1);
    private readonly Option<double> _delta = CliOptions.Between("--delta", "D", "The chance a candidate's certificate may fail (over the draw of the calibration data).", 0.05, 0, 1);
    private readonly Option<string> _prompts = CliOptions.RequiredPath("--prompts", "CAL.txt", "Calibration prompts, one per line; the full model continues each greedily.");
    private readonly Option<string> _heldout = CliOptions.RequiredPath("--heldout", "PROMPTS.txt", "Held-out prompts the chosen plan is measured on (si eval's measures).");
    private readonly Option<string?> _text = CliOptions.OptionalPath("--text", "TEXT.txt", "A text for the chosen plan's perplexity.");
    private readonly Option<int> _budget = CliOptions.Whole("--budget", "N", "The most candidates measured for quality and speed (the full model not counted).", 40, 1, 10_000);
    private readonly Option<string> _output = new("--output") { HelpName = "DIR", Description = "The folder the plan, its manifest, the candidates and the reports are written to.", DefaultValueFactory = _ => "." };
    private readonly Option<string?> _plot = CliOptions.OptionalPath("--plot", "DIR", "Write the Pareto front (speed vs agreement) as a PNG into this folder.");
    private readonly Option<string?> _learned = CliOptions.OptionalPath("--learned", "DIR", "A folder si learn-exits wrote: its learned probes (and heads, when --model holds them) are tried too.");
    private readonly Option<int> _count = CliOptions.Whole("-n", "N", "Greedy tokens per calibration and held-out prompt.", 128, 2, 1 << 20);
    private readonly Option<int> _grid = CliOptions.Whole("--grid", "N", "Exit strictness candidates from 1 down to 0 in steps of 1/N.", 100, 1, 100_000);
    private readonly Option<int> _speedPrompts = CliOptions.Whole("--speed-prompts", "N", "Calibration prompts each candidate is timed on.", 8, 1, 1 << 20);
    private readonly Option<string?> _engine = CliOptions.EngineDefaultGenerated();

    public PlanCommand(CliContext context)
        : base("plan", "Search for the fastest plan that keeps a target agreement with the full model.\n" +
                       "Tries prune sets along SLEB's order, sub-layer drops, exit points × criteria (learned probes and heads\n" +
                       "with --learned) calibrated to the target by Learn-then-Test, cosine skip rules, decode depth and patience;\n" +
                       "measures each on the calibration prompts (teacher-forced agreement) and times it with its generated engine\n" +
                       "against the full model's; prints the candidates and the Pareto front, writes the fastest plan certified to\n" +
                       "meet the target and its figures on the held-out prompts.")
    {
        _context = context;
        foreach (var option in new Option[] { _model, _target, _delta, _prompts, _heldout, _text, _budget, _output, _plot, _learned, _count, _grid, _speedPrompts, _engine })
            Options.Add(option);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var modelPath = args.GetRequiredValue(_model);
        var promptsPath = args.GetRequiredValue(_prompts);
        var heldoutPath = args.GetRequiredValue(_heldout);
        var textPath = args.GetValue(_text);
        var output = args.GetRequiredValue(_output);
        var plotDir = args.GetValue(_plot);
        var learnedDir = args.GetValue(_learned);
        var count = args.GetValue(_count);
        var target = new CalibrationTarget(args.GetValue(_target), args.GetValue(_delta), args.GetValue(_grid));
        var prompts = EvalCommand.ReadPrompts(promptsPath);
        var heldout = EvalCommand.ReadPrompts(heldoutPath);
        var text = textPath is null ? null : EvalCommand.ReadText(textPath);
        if (!Directory.Exists(output)) throw new DirectoryNotFoundException($"The output folder {output} does not exist.");
        if (learnedDir is not null && !Directory.Exists(learnedDir)) throw new DirectoryNotFoundException($"The folder of --learned {learnedDir} does not exist.");
        var factory = new EngineFactory(EngineKinds.Parse(args.GetValue(_engine) ?? "generated"), _context.EngineCache);

        using var weights = LlamaWeights.Load(modelPath);
        var config = weights.Config;
        if (config.Layers < 2) throw new ArgumentException($"{modelPath} has {config.Layers} layer; a plan search needs at least two.");
        var tokenizer = Tokenizers.FromGguf(weights.File);
        var name = Path.GetFileNameWithoutExtension(modelPath);
        var label = name + ".target" + target.TargetAgreement.ToString("0.####", Inv).Replace("0.", "", StringComparison.Ordinal);
        var candidates = Path.Combine(output, label + ".candidates");
        Directory.CreateDirectory(candidates);
        var manifest = ManifestCheck.FromConfig(config, name);
        var manifestFile = name + ManifestReader.Extension;
        var manifestReference = "../" + manifestFile; // candidate plans are written one folder below the manifest
        WriteText(Path.Combine(output, manifestFile), ManifestWriter.ToJson(manifest));
        var learned = learnedDir is null ? null : ReadLearned(learnedDir, candidates, weights);

        var encoded = prompts.Select(p => tokenizer.Encode(p, addSpecial: true, parseSpecial: false)).ToArray();
        var requests = TraceRequest.Continuations(encoded, count, samples: 0, seed: 0).ToList();
        var options = new PlanSearchOptions { Target = target, Budget = args.GetValue(_budget), TokensPerPrompt = count };
        using var meter = new CandidateSpeedMeter(factory, modelPath, candidates, tokenizer, encoded.Take(args.GetValue(_speedPrompts)).ToList(), count);

        var (result, sleb, trace) = ProgressBars.Run(_context, progress =>
        {
            using var full = new ReferenceEngine(weights);
            var t = TeacherForcedTrace.Record(full, requests, [], tokenizer.EosId, progress);
            // SLEB's order by the NLL of the full model's own continuations of the calibration prompts.
            var windows = t.Sequences.Select(s => s.Prompt.Concat(s.Continuation).ToArray()).ToList();
            var measurements = config.Layers * (config.Layers + 1) / 2 - 1;
            var done = 0;
            var order = LayerAnalysis.SlebOrder(weights, windows, () => progress?.Report(new EvaluationProgress("SLEB order", ++done, measurements)));
            var families = SearchSpace.Families(manifestReference, config.Layers, order.Select(s => s.Removed).ToList(), learned);
            var found = PlanSearch.Run(weights, manifest, manifestReference, t, families, options, meter, PlanCalibrator.Describe(modelPath), [PlanCalibrator.Describe(promptsPath)], progress);
            return (found, order, t);
        });

        // The chosen plan beside the manifest, and its figures on the held-out prompts.
        var best = result.Best;
        var planPath = Path.Combine(output, label + ".plan.json");
        WriteText(planPath, PlanWriter.ToJson(PlanWriter.Rebase(best.Plan!, candidates, output),
            string.Create(Inv, $"si plan: the fastest candidate certified to keep agreement ≥ {target.TargetAgreement} (δ {target.Delta}) on {Path.GetFileName(promptsPath)}: {best.Candidate.What}")));
        var chosen = PlanLoader.Load(planPath);
        var heldoutEngine = best.Speed!.Engine == "generated" ? factory : new EngineFactory(EngineKind.Reference, _context.EngineCache);
        var report = ProgressBars.Run(_context, progress =>
        {
            using var full = heldoutEngine.LoadFull(modelPath, chosen);
            using var plan = heldoutEngine.Load(modelPath, chosen);
            return new QualityEvaluator(full.Engine, plan.Engine, tokenizer, new EvaluationOptions { MaxNewTokens = count }).Evaluate(heldout, text, progress);
        });
        var reportPath = Path.Combine(output, label + ".heldout.json");
        File.WriteAllBytes(reportPath, EvalCommand.ToJson(report, heldoutEngine.Kind, modelPath, planPath, heldoutPath, textPath));
        var searchPath = Path.Combine(output, label + ".search.json");
        File.WriteAllBytes(searchPath, SearchJson(result, sleb, trace, target, options, factory.Kind, modelPath, promptsPath, planPath, reportPath));

        Print(result, sleb, trace, target, factory.Kind, prompts.Count, count);
        PrintChosen(best, report, heldoutEngine.Kind, heldout.Count, heldoutPath);
        if (plotDir is not null) _context.Error.WriteLine($"wrote {SearchPlots.Write(result, target.TargetAgreement, plotDir, label)}");
        foreach (var file in new[] { planPath, reportPath, searchPath }) _context.Error.WriteLine($"wrote {file}");
        return ExitCodes.Success;
    }

    /// <summary>
    /// The exits <c>si learn-exits</c> wrote into <paramref name="dir"/>: its probe plan always, its heads plan when the
    /// model holds the head tensors; rebased to the candidates folder.
    /// </summary>
    private LearnedExits ReadLearned(string dir, string candidates, LlamaWeights weights)
    {
        LoadedPlan? One(string pattern)
        {
            var files = Directory.GetFiles(dir, pattern);
            return files.Length switch
            {
                0 => null,
                1 => PlanLoader.Load(files[0]),
                _ => throw new InvalidDataException($"{dir} holds {files.Length} files matching {pattern}; --learned takes the folder of one si learn-exits run."),
            };
        }
        var probes = One("*.learned.plan.json");
        var heads = One("*.heads.plan.json");
        if (probes is null && heads is null) throw new InvalidDataException($"{dir} holds no plan si learn-exits writes (*.learned.plan.json, *.heads.plan.json).");
        if (heads is not null && !heads.Plan.Exits.All(e => e.Head is null || e.Head.TensorNames.All(weights.File.HasTensor)))
        {
            _context.Error.WriteLine($"note: {Path.GetFileName(heads.PlanPath)} is not tried: --model has no exit heads (give the copy with heads si learn-exits wrote).");
            heads = null;
        }
        LayerPlan Move(LoadedPlan p) => PlanWriter.Rebase(p.Plan, Path.GetDirectoryName(p.PlanPath)!, candidates);
        var probePlan = probes is null ? null : Move(probes);
        var headPlan = heads is null ? null : Move(heads);
        return new LearnedExits(probePlan?.Exits.ToList() ?? [], headPlan?.Exits.ToList() ?? [],
            (probePlan?.Probes ?? Array.Empty<LinearProbe>()).Concat(headPlan?.Probes ?? Array.Empty<LinearProbe>()).DistinctBy(p => p.File).ToArray());
    }

    private void Print(PlanSearchResult r, IReadOnlyList<SlebStep> sleb, TeacherForcedTrace trace, CalibrationTarget target, EngineKind kind, int prompts, int count)
    {
        var lines = _context.Text;
        lines.WriteLine(string.Create(Inv,
            $"calibration: {prompts} prompts × up to {count} greedy tokens ({trace.Count:N0} teacher-forced positions); target agreement {target.TargetAgreement}, δ {target.Delta}"));
        lines.WriteLine($"SLEB order: {string.Join(", ", sleb.Select(s => s.Removed.ToString(Inv)))}");
        lines.WriteLine(string.Create(Inv, $"{r.Candidates.Count - 1} candidates measured: teacher-forced agreement on the calibration positions (✓ certified at δ), steps per generated token, decode speed of the {(kind == EngineKind.Generated ? "generated engines" : "reference engine")} against the full model's (★ on the Pareto front; names and thresholds in the search JSON)"));
        lines.Flush();
        var table = new Table();
        foreach (var (h, right) in new[] { ("", false), ("candidate", false), ("setting", false), ("agreement", true), ("p-value", true), ("steps", true), ("speed", true), ("timed by", false) })
            table.AddColumn(right ? new TableColumn(h).RightAligned() : new TableColumn(h));
        var front = r.Front.ToHashSet();
        foreach (var m in r.Candidates.OrderByDescending(m => m.Speed?.Speedup ?? double.NegativeInfinity))
        {
            var q = m.Quality;
            table.AddRow(new Text(front.Contains(m) ? "★" : ""), new Text(m.Candidate.Name),
                new Text(q is null ? "none certified" : q.Setting),
                new Text(q is null ? "" : EvalCommand.F(q.Agreement, "F4") + (q.Certified ? " ✓" : "")), new Text(q is null || m.Candidate.Kind == CandidateKind.Full ? "" : EvalCommand.F(q.PValue, "G2")),
                new Text(q is null ? "" : EvalCommand.F(q.MeanSteps, "F2")), new Text(m.Speed is { } s ? EvalCommand.F(s.Speedup, "F2") + "×" : ""), new Text(m.Speed?.Engine ?? ""));
        }
        _context.Out.Write(table);
        foreach (var note in r.Notes) lines.WriteLine($"note: {note}");
        lines.Flush();
    }

    private void PrintChosen(MeasuredCandidate best, QualityReport report, EngineKind kind, int prompts, string heldoutPath)
    {
        var lines = _context.Text;
        var tf = report.TeacherForced;
        var fr = report.FreeRunning;
        lines.WriteLine(string.Create(Inv, $"chosen: {best.Candidate.Name} ({best.Candidate.What}{(best.Quality!.Setting.Length > 0 ? "; " + best.Quality.Setting : "")}): {report.PlanSchedule.Describe()}"));
        lines.WriteLine(string.Create(Inv, $"  calibration: agreement {best.Quality.Agreement:F4} (p {best.Quality.PValue:G3}), speed {best.Speed!.Speedup:F2}× ({best.Speed.Engine} engine)"));
        var perplexity = report.Perplexity is { } p ? string.Create(Inv, $", perplexity {p.PlanPerplexity:F4} (full {p.FullPerplexity:F4})") : "";
        lines.WriteLine(string.Create(Inv,
            $"  held out ({prompts} prompts, {Path.GetFileName(heldoutPath)}): agreement {tf.Agreement:F4} teacher-forced, identical prefix {fr.MeanIdenticalPrefix:F1} tokens free-running{perplexity}, decode {report.Speed.Speedup:F2}× the full {(kind == EngineKind.Generated ? "generated" : "reference")} engine ({report.Speed.Plan.TokensPerSecond:N0} vs {report.Speed.Full.TokensPerSecond:N0} tokens/s)"));
        lines.Flush();
    }

    private static byte[] SearchJson(PlanSearchResult r, IReadOnlyList<SlebStep> sleb, TeacherForcedTrace trace, CalibrationTarget target, PlanSearchOptions options,
        EngineKind kind, string modelPath, string promptsPath, string planPath, string reportPath)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", Path.GetFullPath(modelPath));
            w.WriteString("prompts", Path.GetFullPath(promptsPath));
            w.WriteNumber("targetAgreement", target.TargetAgreement);
            w.WriteNumber("delta", target.Delta);
            w.WriteNumber("budget", options.Budget);
            w.WriteNumber("calibrationPositions", trace.Count);
            w.WriteString("engine", kind == EngineKind.Generated ? "generated" : "reference");
            w.WriteStartArray("slebOrder");
            foreach (var s in sleb) w.WriteNumberValue(s.Removed);
            w.WriteEndArray();
            w.WriteString("plan", Path.GetFullPath(planPath));
            w.WriteString("heldout", Path.GetFullPath(reportPath));
            w.WriteString("chosen", r.Best.Candidate.Name);
            var front = r.Front.ToHashSet();
            w.WriteStartArray("candidates");
            foreach (var m in r.Candidates)
            {
                w.WriteStartObject();
                w.WriteString("name", m.Candidate.Name);
                w.WriteString("kind", m.Candidate.Kind.ToString());
                w.WriteString("what", m.Candidate.What);
                w.WriteBoolean("onFront", front.Contains(m));
                if (m.Plan is not null) w.WriteString("schedule", ExecutionSchedule.Resolve(m.Plan, trace.FinalStep + 1).Describe());
                if (m.Quality is { } q)
                {
                    w.WriteString("setting", q.Setting);
                    w.WriteNumber("positions", q.Positions);
                    w.WriteNumber("disagreements", q.Disagreements);
                    EvalCommand.Number(w, "agreement", q.Agreement);
                    EvalCommand.Number(w, "pValue", q.PValue);
                    w.WriteBoolean("certified", q.Certified);
                    EvalCommand.Number(w, "meanSteps", q.MeanSteps);
                }
                else w.WriteBoolean("certified", false);
                if (m.Speed is { } s)
                {
                    EvalCommand.Number(w, "speedup", s.Speedup);
                    EvalCommand.Number(w, "planTokensPerSecond", s.PlanTokensPerSecond);
                    EvalCommand.Number(w, "fullTokensPerSecond", s.FullTokensPerSecond);
                    w.WriteString("speedEngine", s.Engine);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("notes");
            foreach (var n in r.Notes) w.WriteStringValue(n);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void WriteText(string path, string text)
    {
        File.WriteAllText(path + ".tmp", text);
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
