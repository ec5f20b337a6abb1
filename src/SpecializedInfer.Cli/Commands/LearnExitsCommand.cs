using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using SpecializedInfer.Engine;
using SpecializedInfer.Learning;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Tokenization;
using SpecializedInfer.Tracing;

namespace SpecializedInfer.Cli.Commands;

/// <summary>
/// <c>si learn-exits</c>: learned probes and exit heads for chosen exit points, fitted on the model's own continuations
/// of the prompts (greedy and seeded samples) and the text, teacher-forced through the full model
/// (<see cref="TeacherForcedTrace"/>, <see cref="ExitLearner"/>). Writes the probes, a copy of the model with the
/// heads, the manifest, plans that use them, and a JSON report of the held-out figures it prints.
/// </summary>
public sealed class LearnExitsCommand : Command
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private readonly CliContext _context;
    private readonly Option<string> _model = CliOptions.RequiredPath("--model", "MODEL.gguf", "The GGUF model (only read; the heads go into a copy).");
    private readonly Option<int[]> _exits = CliOptions.WholeList("--exits", "STEPS", "Schedule steps to learn exits after, e.g. 1,2,3 (each before the last two steps).", 0, 1 << 16);
    private readonly Option<string> _prompts = CliOptions.RequiredPath("--prompts", "PROMPTS.txt", "One prompt per line; the model continues each greedily and --samples times sampled.");
    private readonly Option<string?> _text = CliOptions.OptionalPath("--text", "TEXT.txt", "A text fed in windows of -n tokens, in addition to the continuations.");
    private readonly Option<string> _output = CliOptions.RequiredPath("--output", "DIR", "The folder to write probes, the model copy with heads, the manifest, plans and the report to.");
    private readonly Option<ulong> _seed = CliOptions.Whole("--seed", "N", "Seed of the sampled continuations.", 1UL, 0UL, ulong.MaxValue);
    private readonly Option<int> _samples = CliOptions.Whole("--samples", "K", "Sampled continuations per prompt besides the greedy one.", 3, 0, 1000);
    private readonly Option<int> _count = CliOptions.Whole("-n", "N", "Tokens per continuation and per text window.", 128, 2, 1 << 20);
    private readonly Option<string?> _head = CliOptions.Choice("--head",
        "full: each exit gets its own output matrix (vocab × dim); adapter: a dim × dim map (+ bias) before the model's own head, for large vocabularies. Default: full.",
        ["full", "adapter"]);
    private readonly Option<double> _threshold = CliOptions.Between("--threshold", "P", "The probe threshold the written plans start with (si calibrate sets it with a guarantee).", 0.9, 0, 1);

    public LearnExitsCommand(CliContext context)
        : base("learn-exits", "Learn exit probes and exit heads from the model's own continuations.\n" +
                              "Traces the full model over its greedy and sampled continuations of --prompts (and --text), fits for\n" +
                              "each exit a logistic probe on the normalized hidden state (does the exit's argmax equal the full\n" +
                              "model's?) and an exit head by ridge regression to the full model's final state (a head of its own, or\n" +
                              "with --head adapter a dim × dim map in front of the model's head), and reports held-out\n" +
                              "AUC (next to max probability's) and agreement. Every fifth prompt (and text window) is held out.")
    {
        _context = context;
        foreach (var option in new Option[] { _model, _exits, _prompts, _text, _output, _seed, _samples, _count, _head, _threshold }) Options.Add(option);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var modelPath = ModelArgument.Resolve(args.GetRequiredValue(_model), _context);
        var steps = args.GetRequiredValue(_exits).Order().ToArray();
        var prompts = EvalCommand.ReadPrompts(args.GetRequiredValue(_prompts));
        var textPath = args.GetValue(_text);
        var text = textPath is null ? null : EvalCommand.ReadText(textPath);
        var output = args.GetRequiredValue(_output);
        var count = args.GetValue(_count);
        var threshold = args.GetValue(_threshold);
        if (!Directory.Exists(output)) throw new DirectoryNotFoundException($"The output folder {output} does not exist.");

        using var full = ReferenceEngine.Load(modelPath);
        var config = full.Config;
        foreach (var s in steps)
            if (s > config.Layers - 2)
                throw new ArgumentException($"An exit after step {s} saves nothing on a {config.Layers}-layer model: exits go after steps 0 to {config.Layers - 2}.");
        var tokenizer = Tokenizers.FromGguf(full.Weights.File);
        var requests = TraceRequest.Continuations(prompts.Select(p => tokenizer.Encode(p, addSpecial: true, parseSpecial: false)).ToArray(), count, args.GetValue(_samples), args.GetValue(_seed)).ToList();
        if (text is not null) requests.AddRange(TraceRequest.Windows(tokenizer.Encode(text, addSpecial: true, parseSpecial: false), count, prompts.Count));

        var (trace, learned) = ProgressBars.Run(_context, progress =>
        {
            var t = TeacherForcedTrace.Record(full, requests, steps, tokenizer.EosId, progress);
            var options = new LearnOptions { HeadKind = args.GetValue(_head) == "adapter" ? ExitHeadKind.Adapter : ExitHeadKind.Full };
            return (t, ExitLearner.Learn(t, HeadProjection.OfModel(full.Weights), config.NormEps, options, progress));
        });

        var name = Path.GetFileNameWithoutExtension(modelPath);
        var names = full.Weights.TensorNames;
        var written = Write(output, name, modelPath, config, learned, threshold, names.OutputNorm, config.TiedOutput ? names.TokenEmbedding : names.Output);
        Print(learned, trace, requests.Count);
        foreach (var file in written) _context.Error.WriteLine($"wrote {Path.Combine(output, file)}");
        return ExitCodes.Success;
    }

    /// <summary>Manifest, probes, the model copy with heads, two plans and the report; returns the file names.</summary>
    private static List<string> Write(string dir, string name, string modelPath, LlamaConfig config, LearnedExits learned, double threshold, string modelNorm, string modelOutput)
    {
        var files = new List<string>();
        void Text(string file, string content)
        {
            // Written beside and renamed into place, as the model copy is: a reader never sees half a file.
            var path = Path.Combine(dir, file);
            File.WriteAllText(path + ".tmp", content);
            File.Move(path + ".tmp", path, overwrite: true);
            files.Add(file);
        }

        var manifest = $"{name}.model.json";
        using (var file = Gguf.GgufFile.Open(modelPath)) Text(manifest, ManifestWriter.ToJson(ManifestCheck.FromFile(file, config, name)));
        var headsModel = $"{name}.exit-heads.gguf";
        ExitHeadFile.Write(modelPath, Path.Combine(dir, headsModel), learned.Exits.Select(e => (e.Step, e.Head)).ToList());
        files.Add(headsModel);

        var probeExits = new List<ExitPoint>();
        var headExits = new List<ExitPoint>();
        foreach (var e in learned.Exits)
        {
            var head = ExitHeadFile.NamesFor(e.Step, e.Head, modelNorm, modelOutput);
            var probe = $"{name}.exit{e.Step}.probe.json";
            var headProbe = $"{name}.exit{e.Step}.head.probe.json";
            Text(probe, ProbeReader.Write(e.Probe.Bias, e.Probe.Weights,
                string.Create(Inv, $"P(the model's head after step {e.Step} picks the full model's token); held-out AUC {e.Probe.HeldOutAuc:F4} (max probability {e.Probe.MaxProbabilityAuc:F4})")));
            Text(headProbe, ProbeReader.Write(e.HeadProbe.Bias, e.HeadProbe.Weights,
                string.Create(Inv, $"P(the learned head {head.Adapter?.Weight ?? head.Output} picks the full model's token); held-out AUC {e.HeadProbe.HeldOutAuc:F4} (max probability {e.HeadProbe.MaxProbabilityAuc:F4})")));
            probeExits.Add(new ExitPoint(e.Step, ExitTest.OfLearned(probe, threshold)));
            headExits.Add(new ExitPoint(e.Step, ExitTest.OfLearned(headProbe, threshold), head));
        }
        Text($"{name}.learned.plan.json", PlanWriter.ToJson(new LayerPlan { Manifest = manifest, Exits = probeExits.ToArray() },
            "Exits by learned probes on the model's own head (si learn-exits); runs with the original model or the copy with heads."));
        Text($"{name}.heads.plan.json", PlanWriter.ToJson(new LayerPlan { Manifest = manifest, Exits = headExits.ToArray() },
            $"Exits with learned heads and probes for them (si learn-exits); runs with {headsModel}."));
        Text("learn-exits.json", Report(learned, name));
        return files;
    }

    private void Print(LearnedExits learned, TeacherForcedTrace trace, int sequences)
    {
        var lines = _context.Text;
        lines.WriteLine(string.Create(Inv, $"{sequences} sequences, {trace.Count:N0} positions: {learned.TrainingPositions:N0} to fit, {learned.HeldOutPositions:N0} held out (every fifth prompt and text window)"));
        lines.WriteLine("held out: top-1 agreement with the full model and AUC for it, with the model's head and with the learned head");
        lines.Flush();
        var table = new Table().AddColumn("exit");
        foreach (var h in new[] { "agree", "probe AUC", "max-p AUC", "agree, head", "probe AUC, head", "max-p AUC, head" })
            table.AddColumn(new TableColumn(h).RightAligned());
        foreach (var e in learned.Exits)
            table.AddRow(e.Step.ToString(Inv), F(e.ModelHeadAgreement.Rate), F(e.Probe.HeldOutAuc), F(e.Probe.MaxProbabilityAuc),
                F(e.LearnedHeadAgreement.Rate), F(e.HeadProbe.HeldOutAuc), F(e.HeadProbe.MaxProbabilityAuc));
        _context.Out.Write(table);
    }

    private static string F(double v) => double.IsNaN(v) ? "n/a" : v.ToString("F4", Inv);

    private static string Report(LearnedExits learned, string name)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", name);
            w.WriteNumber("trainingPositions", learned.TrainingPositions);
            w.WriteNumber("heldOutPositions", learned.HeldOutPositions);
            w.WriteStartArray("exits");
            foreach (var e in learned.Exits)
            {
                w.WriteStartObject();
                w.WriteNumber("afterStep", e.Step);
                Agreement(w, "modelHead", e.ModelHeadAgreement);
                Agreement(w, "learnedHead", e.LearnedHeadAgreement);
                Probe(w, "probe", e.Probe);
                Probe(w, "headProbe", e.HeadProbe);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void Agreement(Utf8JsonWriter w, string name, AgreementCount a)
    {
        w.WriteStartObject(name);
        w.WriteNumber("agreements", a.Agreements);
        w.WriteNumber("positions", a.Positions);
        Number(w, "rate", a.Rate);
        w.WriteEndObject();
    }

    private static void Probe(Utf8JsonWriter w, string name, ProbeFit p)
    {
        w.WriteStartObject(name);
        Number(w, "heldOutAuc", p.HeldOutAuc);
        Number(w, "maxProbabilityAuc", p.MaxProbabilityAuc);
        w.WriteNumber("heldOutPositives", p.HeldOutPositives);
        w.WriteNumber("heldOutPositions", p.HeldOutPositions);
        w.WriteNumber("iterations", p.Iterations);
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteNull(name);
    }
}
