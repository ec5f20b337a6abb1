using SpecializedInfer.Conversion;

namespace SpecializedInfer.Cli.Commands;

/// <summary><c>si convert</c>: a llama2.c checkpoint and tokenizer to GGUF.</summary>
public sealed class ConvertCommand : ICommand
{
    public string Name => "convert";
    public string Summary => "convert a llama2.c checkpoint (+ tokenizer) to GGUF";
    public string Usage => "usage: si convert --checkpoint MODEL.bin --tokenizer TOK.bin --output OUT.gguf [--context N]";

    public int Run(CommandLine args, CliContext context)
    {
        var checkpoint = args.RequiredString("checkpoint");
        var tokenizer = args.RequiredString("tokenizer");
        var output = args.RequiredString("output");
        var contextLength = args.Int("context", 0, 1, 1 << 24);
        args.EnsureAllUsed(maxPositionals: 0);
        Llama2cConverter.Convert(checkpoint, tokenizer, output, contextLength == 0 ? null : contextLength);
        context.Error.WriteLine($"wrote {output} ({new FileInfo(output).Length:N0} bytes)");
        return ExitCodes.Success;
    }
}
