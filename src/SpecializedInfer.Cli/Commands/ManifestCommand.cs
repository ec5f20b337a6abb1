using SpecializedInfer.Models;

namespace SpecializedInfer.Cli.Commands;

/// <summary><c>si manifest M.gguf</c>: the model manifest a specialized engine is generated from.</summary>
public sealed class ManifestCommand : ICommand
{
    public string Name => "manifest";
    public string Summary => "write the model manifest (NAME.model.json) of a GGUF model";
    public string Usage => "usage: si manifest MODEL.gguf [--output NAME.model.json] [--name NAME]\n  Without --output the manifest goes to standard output.";

    public int Run(CommandLine args, CliContext context)
    {
        var output = args.String("output");
        var name = args.String("name");
        args.EnsureAllUsed(maxPositionals: 1);
        if (args.Positionals.Count != 1) throw new UsageException("Give one model file.");
        var modelPath = args.Positionals[0];
        using var weights = LlamaWeights.Load(modelPath, layersToBind: []);
        name ??= Path.GetFileNameWithoutExtension(modelPath);
        var json = ManifestWriter.ToJson(ManifestCheck.FromConfig(weights.Config, name));
        if (output is null) context.Text.Write(json);
        else
        {
            File.WriteAllText(output, json);
            context.Error.WriteLine($"wrote {output}");
        }
        return ExitCodes.Success;
    }
}
