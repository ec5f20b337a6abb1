using System.CommandLine;
using SpecializedInfer.Conversion;

namespace SpecializedInfer.Cli.Commands;

/// <summary><c>si convert</c>: a llama2.c checkpoint and tokenizer to GGUF.</summary>
public sealed class ConvertCommand : Command
{
    private readonly CliContext _context;
    private readonly Option<string> _checkpoint = CliOptions.Required("--checkpoint", "MODEL.bin", "The llama2.c checkpoint.");
    private readonly Option<string> _tokenizer = CliOptions.Required("--tokenizer", "TOK.bin", "The llama2.c tokenizer file.");
    private readonly Option<string> _output = CliOptions.Required("--output", "OUT.gguf", "The GGUF file to write.");
    private readonly Option<int?> _contextLength = CliOptions.OptionalWhole("--context", "N", "The context length to record (default: the checkpoint's).", 1, 1 << 24);

    public ConvertCommand(CliContext context) : base("convert", "Convert a llama2.c checkpoint (+ tokenizer) to GGUF.")
    {
        _context = context;
        foreach (var option in new Option[] { _checkpoint, _tokenizer, _output, _contextLength }) Options.Add(option);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var output = args.GetRequiredValue(_output);
        Llama2cConverter.Convert(args.GetRequiredValue(_checkpoint), args.GetRequiredValue(_tokenizer), output, args.GetValue(_contextLength));
        _context.Error.WriteLine($"wrote {output} ({new FileInfo(output).Length:N0} bytes)");
        return ExitCodes.Success;
    }
}
