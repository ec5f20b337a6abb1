using System.CommandLine;
using System.Diagnostics;
using SpecializedInfer.Gguf;
using SpecializedInfer.Quantization;

namespace SpecializedInfer.Cli.Commands;

/// <summary><c>si quantize</c>: a model's Q8_0 or Q4_0 file, byte for byte as llama.cpp's quantizer writes it.</summary>
public sealed class QuantizeCommand : Command
{
    private readonly CliContext _context;
    private readonly Option<string> _model = CliOptions.RequiredPath("--model", "IN.gguf", "The model to quantize (F32, F16 or BF16 weights).");
    private readonly Option<string?> _type = CliOptions.Choice("--type", "The file type: q8_0, or q4_0 (its output matrix in q6_k, as llama.cpp does).", ["q8_0", "q4_0"]);
    private readonly Option<string> _output = CliOptions.RequiredPath("--output", "OUT.gguf", "The GGUF file to write.");

    public QuantizeCommand(CliContext context)
        : base("quantize", "Quantize a model to Q8_0 or Q4_0, writing the file llama.cpp's llama-quantize writes.")
    {
        _context = context;
        _type.Required = true;
        foreach (var option in new Option[] { _model, _type, _output }) Options.Add(option);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var output = args.GetRequiredValue(_output);
        ModelQuantizer.TryParse(args.GetRequiredValue(_type)!, out var type); // the option accepts only those names
        var clock = Stopwatch.StartNew();
        long inputBytes;
        using (var input = GgufFile.Open(args.GetRequiredValue(_model)))
        {
            inputBytes = input.FileLength;
            ModelQuantizer.Quantize(input, type, output);
        }
        _context.Error.WriteLine($"wrote {output}: {type}, {inputBytes:N0} -> {new FileInfo(output).Length:N0} bytes in {clock.Elapsed.TotalSeconds:F1} s");
        return ExitCodes.Success;
    }
}
