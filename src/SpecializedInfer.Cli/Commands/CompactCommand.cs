using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using SpecializedInfer.Compaction;

namespace SpecializedInfer.Cli.Commands;

/// <summary><c>si compact</c>: the smaller model file a plan needs, with its manifest and the plan rewritten for it (<see cref="ModelCompactor"/>).</summary>
public sealed class CompactCommand : Command
{
    private readonly CliContext _context;
    private readonly Option<string> _model = CliOptions.RequiredPath("--model", "MODEL.gguf", "The GGUF model the plan is for.");
    private readonly Option<string> _plan = CliOptions.RequiredPath("--plan", "PLAN.plan.json", "The layer plan whose unused layers are left out.");
    private readonly Option<string> _output = CliOptions.RequiredPath("--output", "OUT.gguf",
        "The smaller model; its manifest (OUT.model.json) and rewritten plan (OUT.plan.json) are written beside it.");

    public CompactCommand(CliContext context)
        : base("compact", "Write the model file a plan needs: unused layers left out, shared weights stored once, merges applied.\n" +
                          "Writes OUT.gguf, its manifest OUT.model.json and OUT.plan.json, the plan rewritten for the new file,\n" +
                          "which computes exactly what the original model computes under the original plan.")
    {
        _context = context;
        foreach (var option in new Option[] { _model, _plan, _output }) Options.Add(option);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var (model, plan, output) = (ModelArgument.Resolve(args.GetRequiredValue(_model), _context), args.GetRequiredValue(_plan), args.GetRequiredValue(_output));
        // Copying a large model takes seconds: a spinner while it runs, when someone is watching.
        var r = _context.Out.Profile.Capabilities.Interactive
            ? _context.Out.Status().Start($"writing {Path.GetFileName(output)}", _ => ModelCompactor.Compact(model, plan, output))
            : ModelCompactor.Compact(model, plan, output);
        var inv = CultureInfo.InvariantCulture;
        var lines = _context.Text;
        lines.WriteLine(string.Create(inv, $"{r.LayerSources.Count} of {r.SourceLayers} layers stored (new layer ← source: {string.Join(", ", r.LayerSources.Select((s, i) => $"{i}←{s}"))})"));
        lines.WriteLine(string.Create(inv, $"{r.SourceBytes:N0} bytes → {r.OutputBytes:N0} bytes: {r.BytesSaved:N0} saved ({(double)r.BytesSaved / r.SourceBytes:P1})"));
        lines.Flush();
        _context.Error.WriteLine($"wrote {r.ModelPath}");
        _context.Error.WriteLine($"wrote {r.ManifestPath}");
        _context.Error.WriteLine($"wrote {r.PlanPath}");
        return ExitCodes.Success;
    }
}
