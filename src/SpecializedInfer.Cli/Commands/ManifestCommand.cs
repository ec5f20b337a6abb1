using System.CommandLine;
using SpecializedInfer.Models;

namespace SpecializedInfer.Cli.Commands;

/// <summary><c>si manifest M.gguf</c>: the model manifest a specialized engine is generated from.</summary>
public sealed class ManifestCommand : Command
{
    private readonly CliContext _context;
    private readonly Argument<string> _model = CliOptions.File("MODEL.gguf", "The GGUF model to describe.");
    private readonly Option<string?> _output = CliOptions.OptionalPath("--output", "NAME.model.json", "Where to write the manifest; without it, standard output.");
    private readonly Option<string?> _name = CliOptions.OptionalName("--name", "NAME", "The manifest's model name (default: the file name without .gguf).");

    public ManifestCommand(CliContext context) : base("manifest", "Write the model manifest (NAME.model.json) of a GGUF model.")
    {
        _context = context;
        Arguments.Add(_model);
        Options.Add(_output);
        Options.Add(_name);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var modelPath = ModelArgument.Resolve(args.GetRequiredValue(_model), _context);
        var output = args.GetValue(_output);
        var name = args.GetValue(_name) ?? Path.GetFileNameWithoutExtension(modelPath);
        var json = ManifestWriter.ToJson(Describe(modelPath, name));
        if (output is null) _context.Text.Write(json);
        else
        {
            File.WriteAllText(output, json);
            _context.Error.WriteLine($"wrote {output}");
        }
        return ExitCodes.Success;
    }

    /// <summary>A bert GGUF gets an encoder manifest; every other file is read as a LLaMA-family model.</summary>
    private static Planning.ModelManifest Describe(string modelPath, string name)
    {
        bool isBert;
        using (var file = Gguf.GgufFile.Open(modelPath))
        {
            isBert = file.Find("general.architecture")?.Value is string arch && arch == Encoders.BertConfig.Keys.Architecture;
            if (isBert) return Encoders.BertManifest.FromConfig(Encoders.BertConfig.FromGguf(file), name);
        }
        using var weights = LlamaWeights.Load(modelPath, layersToBind: []);
        return ManifestCheck.FromFile(weights.File, weights.Config, name);
    }
}
