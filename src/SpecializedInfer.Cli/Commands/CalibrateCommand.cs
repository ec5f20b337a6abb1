using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using SpecializedInfer.Engine;
using SpecializedInfer.Learning.Calibration;
using SpecializedInfer.Models;
using SpecializedInfer.Tokenization;
using SpecializedInfer.Tracing;

namespace SpecializedInfer.Cli.Commands;

/// <summary>
/// <c>si calibrate</c>: a plan's exit thresholds chosen with a guarantee (CALM's Learn-then-Test,
/// <see cref="PlanCalibrator"/>), written with the calibration record into a new plan.
/// </summary>
public sealed class CalibrateCommand : Command
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private readonly CliContext _context;
    private readonly Option<string> _model = CliOptions.RequiredPath("--model", "MODEL.gguf", "The GGUF model the plan runs (the full model is the same file without the plan).");
    private readonly Option<string> _plan = CliOptions.RequiredPath("--plan", "PLAN.plan.json", "The plan whose exit thresholds are set.");
    private readonly Option<double> _target = CliOptions.Between("--target-agreement", "A", "The teacher-forced agreement with the full model to guarantee.", 0.99, 0, 1);
    private readonly Option<double> _delta = CliOptions.Between("--delta", "D", "The chance the guarantee may fail (over the draw of the calibration data).", 0.05, 0, 1);
    private readonly Option<string> _prompts = CliOptions.RequiredPath("--prompts", "PROMPTS.txt", "Calibration prompts, one per line; the full model continues each greedily.");
    private readonly Option<string?> _output = CliOptions.OptionalPath("--output", "PLAN.plan.json", "Where to write the calibrated plan; without it, standard output.");
    private readonly Option<int> _count = CliOptions.Whole("-n", "N", "Greedy tokens per calibration prompt.", 256, 2, 1 << 20);
    private readonly Option<int> _grid = CliOptions.Whole("--grid", "N", "Strictness candidates from 1 down to 0 in steps of 1/N.", 200, 1, 100_000);

    public CalibrateCommand(CliContext context)
        : base("calibrate", "Set a plan's exit thresholds so its agreement meets a target with probability 1 - delta.\n" +
                            "CALM's Learn-then-Test: one strictness sets every exit's threshold; candidates from strict to loose\n" +
                            "are tested in order with the exact binomial p-value of \"disagreement rate > 1 - target\" on the\n" +
                            "teacher-forced generated tokens of the full model's greedy continuations of --prompts; the last\n" +
                            "candidate rejected at level delta before the first one that is not is written, with a calibration record.")
    {
        _context = context;
        foreach (var option in new Option[] { _model, _plan, _target, _delta, _prompts, _output, _count, _grid }) Options.Add(option);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var modelPath = ModelArgument.Resolve(args.GetRequiredValue(_model), _context);
        var planPath = args.GetRequiredValue(_plan);
        var promptsPath = args.GetRequiredValue(_prompts);
        var output = args.GetValue(_output);
        var count = args.GetValue(_count);
        var target = new CalibrationTarget(args.GetValue(_target), args.GetValue(_delta), args.GetValue(_grid));
        var prompts = EvalCommand.ReadPrompts(promptsPath);
        if (output is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(output))))
            throw new DirectoryNotFoundException($"The folder of --output {output} does not exist.");

        var plan = PlanLoader.Load(planPath);
        PlanCalibrator.CheckCalibratable(plan.Plan);
        using var weights = LlamaWeights.Load(modelPath, plan.Manifest, plan.ManifestPath, layersToBind: null);
        using var full = new ReferenceEngine(weights);
        var tokenizer = Tokenizers.FromGguf(weights.File);
        var requests = TraceRequest.Continuations(prompts.Select(p => tokenizer.Encode(p, addSpecial: true, parseSpecial: false)).ToArray(), count, samples: 0, seed: 0).ToList();
        var model = PlanCalibrator.Describe(modelPath);
        var data = new[] { PlanCalibrator.Describe(promptsPath) };

        var result = ProgressBars.Run(_context, progress =>
        {
            var trace = TeacherForcedTrace.Record(full, requests, [], tokenizer.EosId, progress);
            return PlanCalibrator.Calibrate(weights, plan.Plan, plan.Manifest, trace, count, target, model, data, progress);
        });

        // The plan goes to standard output when no file is named, so the summary then goes to standard error.
        var report = output is null ? _context.Error : _context.Text;
        Summarize(result, target, plan, report);
        if (result.Plan is not { } calibrated)
        {
            var needed = (int)Math.Ceiling(Math.Log(target.Delta) / Math.Log(target.TargetAgreement));
            _context.Error.WriteLine(result.Test.CriticalCount < 0
                ? string.Create(Inv, $"error: no threshold can be certified with {result.Test.Tokens:N0} calibration tokens: even none disagreeing would leave a p-value above delta (at least {needed:N0} tokens are needed). Use more calibration prompts or tokens (-n), a lower target or a larger delta.")
                : string.Create(Inv, $"error: no threshold meets agreement {target.TargetAgreement} at delta {target.Delta}: even the strictest candidate (strictness 1) was not certified. Use more calibration data, a lower target or a larger delta."));
            return ExitCodes.Failure;
        }
        var folder = Path.GetDirectoryName(plan.PlanPath)!;
        var json = PlanWriter.ToJson(output is null ? calibrated : PlanWriter.Rebase(calibrated, folder, Path.GetDirectoryName(Path.GetFullPath(output))!),
            string.Create(Inv, $"{Path.GetFileName(plan.PlanPath)} calibrated by si calibrate: agreement ≥ {target.TargetAgreement} with probability ≥ {1 - target.Delta}"));
        if (output is null) _context.Text.Write(json);
        else
        {
            File.WriteAllText(output + ".tmp", json);
            File.Move(output + ".tmp", output, overwrite: true);
            _context.Error.WriteLine($"wrote {output}");
        }
        return ExitCodes.Success;
    }

    private static void Summarize(CalibrationResult r, CalibrationTarget target, LoadedPlan plan, TextWriter lines)
    {
        var n = r.Test.Tokens;
        lines.WriteLine(string.Create(Inv, $"plan {Path.GetFileName(plan.PlanPath)}: {plan.Schedule.Describe()}"));
        lines.WriteLine(string.Create(Inv, $"target agreement {target.TargetAgreement} (disagreement ≤ {target.MaxDisagreementRate:G4}) with probability ≥ {1 - target.Delta}; {n:N0} calibration tokens; certified while disagreements ≤ {r.Test.CriticalCount}"));
        foreach (var c in r.Test.Tested.TakeLast(3))
        {
            var replay = r.Replays[c.Candidate];
            var counted = c.Stopped ? string.Create(Inv, $"more than {c.Disagreements - 1}") : c.Disagreements.ToString(Inv);
            var depth = c.Stopped ? "" : string.Create(Inv, $"; {replay.MeanSteps:F2} steps/token, exits {replay.ExitFraction:P1}");
            lines.WriteLine(string.Create(Inv,
                $"  strictness {c.Candidate:0.###}: {counted} disagreements, p {(c.Stopped ? "> " : "")}{c.PValue:G3} → {(c.Rejected ? "certified" : "not certified, stop")}{depth}"));
        }
        if (r.Plan is { } p)
        {
            var exits = string.Join(", ", p.Exits.Select(e => $"exit after step {e.AfterStep} {e.Test.Describe()}"));
            lines.WriteLine(string.Create(Inv,
                $"chosen strictness {r.Chosen!.Candidate:0.###}: {exits}; agreement {p.Calibration!.Agreement:F4} on the calibration tokens, p-value {p.Calibration.PValue:G3}"));
        }
        lines.Flush();
    }
}
