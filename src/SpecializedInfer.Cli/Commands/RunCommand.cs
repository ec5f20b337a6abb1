using System.Globalization;
using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Cli.Commands;

/// <summary><c>si run</c>: generate text from a prompt, streamed as it is produced, then report the speed.</summary>
public sealed class RunCommand : ICommand
{
    public string Name => "run";
    public string Summary => "generate text from a prompt and report tokens/s";
    public string Usage =>
        "usage: si run --model MODEL.gguf --prompt TEXT [-n 256] [--temp 0] [--top-k 0] [--top-p 1] [--seed 42]\n" +
        "              [--context N] [--no-bos] [--plan PLAN.plan.json] [--stats]\n" +
        "  --plan runs the reference engine by a layer plan (checked against the model); --stats prints depth and exits.\n" +
        "  With a lossless plan (\"kvFill\": \"lossless\") and --temp 0, decoding is self-speculative: same text, drafted\n" +
        "  and verified in batches; --stats then also prints draft acceptance.\n" +
        "  Text goes to standard output; the timing line goes to standard error.";

    public int Run(CommandLine args, CliContext context)
    {
        var modelPath = args.RequiredString("model");
        var prompt = args.RequiredString("prompt");
        var count = args.Int("n", 256, 0, 1 << 20);
        var options = new SamplingOptions
        {
            Temperature = args.Float("temp", 0f, 0f, 100f),
            TopK = args.Int("top-k", 0, 0, int.MaxValue),
            TopP = args.Float("top-p", 1f, float.Epsilon, 1f),
            Seed = args.ULong("seed", 42),
        };
        var contextLength = args.Int("context", 0, 1, 1 << 24);
        var addBos = !args.Flag("no-bos");
        var planPath = args.String("plan");
        var showStats = args.Flag("stats");
        args.EnsureAllUsed(maxPositionals: 0);

        using var engine = planPath is null ? ReferenceEngine.Load(modelPath) : ReferenceEngine.Load(modelPath, planPath);
        var tokenizer = LlamaTokenizer.FromGguf(engine.Weights.File);
        using var session = engine.CreateSession(contextLength);
        var promptTokens = tokenizer.Encode(prompt, addBos);
        if (promptTokens.Length == 0) throw new UsageException("The prompt is empty and --no-bos leaves no token to start from.");

        var decoder = new Utf8StreamDecoder();
        var text = context.Text;
        // SentencePiece marks word starts with a space; the one on the first piece after BOS is not part of the text.
        var atStart = true;
        void Emit(int token)
        {
            var piece = tokenizer.TokenBytes(token);
            if (atStart && !piece.IsEmpty) { if (piece[0] == (byte)' ') piece = piece[1..]; atStart = false; }
            text.Write(decoder.Push(piece));
        }
        foreach (var t in promptTokens) Emit(t);
        var generator = new TextGenerator(session, new Sampler(options, engine.Config.VocabSize), tokenizer.EosId);
        var produced = 0;
        foreach (var token in generator.Generate(promptTokens, count))
        {
            Emit(token);
            text.Flush();
            produced++;
        }
        text.WriteLine(decoder.Flush());
        text.Flush();

        // The first generated token comes from the prompt's logits; each of the rest is one more position decoded
        // (one forward pass each, or a share of a verification pass when decoding is self-speculative).
        var passes = Math.Max(produced - 1, 0);
        var rate = passes / Math.Max(generator.GenerationSeconds, 1e-9);
        var mode = generator.UsesSpeculation ? ", self-speculative" : "";
        context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{promptTokens.Length} prompt tokens in {generator.PromptSeconds * 1000:F1} ms; {produced} generated tokens, {passes} decode steps in {generator.GenerationSeconds * 1000:F1} ms ({rate:F1} tokens/s, {engine.Name} engine{mode})"));
        if (showStats) StatsPrinter.Print(session.Statistics, engine.Schedule, context.Error);
        return ExitCodes.Success;
    }
}
