using System.CommandLine;
using System.Globalization;
using SpecializedInfer.Cli.Engines;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Generation;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Cli.Commands;

/// <summary><c>si run</c>: generate text from a prompt, streamed as it is produced, then report the speed.</summary>
public sealed class RunCommand : Command
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private readonly CliContext _context;
    private readonly Option<string> _model = CliOptions.RequiredPath("--model", "MODEL.gguf", "The GGUF model to run.");
    private readonly Option<string> _prompt = CliOptions.RequiredText("--prompt", "TEXT", "The text to continue.");
    private readonly Option<int> _count = CliOptions.Whole("-n", "N", "How many tokens to generate at most.", 256, 0, 1 << 20);
    private readonly Option<float> _temperature = CliOptions.Real("--temp", "T", "Sampling temperature; 0 is greedy.", 0f, 0f, 100f);
    private readonly Option<int> _topK = CliOptions.Whole("--top-k", "K", "Sample from the K most likely tokens; 0 for all.", 0, 0, int.MaxValue);
    private readonly Option<float> _topP = CliOptions.Real("--top-p", "P", "Sample from the smallest set of tokens whose probabilities reach P.", 1f, 0f, 1f, aboveMin: true);
    private readonly Option<ulong> _seed = CliOptions.Whole("--seed", "S", "Seed of the sampler.", 42UL, 0UL, ulong.MaxValue);
    private readonly Option<int?> _contextLength = CliOptions.OptionalWhole("--context", "N", "Positions in the KV cache (default: the model's trained context).", 1, 1 << 24);
    private readonly Option<bool> _noBos = CliOptions.Flag("--no-bos", "Do not put the BOS token before the prompt.");
    private readonly Option<string?> _plan = CliOptions.OptionalPath("--plan", "PLAN.plan.json", "Run by a layer plan (checked against the model).");
    private readonly Option<bool> _stats = CliOptions.Flag("--stats", "Print the plan's depth per token, exits, skips and draft acceptance.");
    private readonly Option<string?> _engine = CliOptions.Engine();
    private readonly Option<int?> _threads = CliOptions.Threads();

    public RunCommand(CliContext context)
        : base("run", "Generate text from a prompt and report prompt and decode speed.\n" +
                      "--engine generated runs the plan's generated engine (the full model's without --plan), compiled in-process\n" +
                      "the first time and cached; its build time is reported apart from the run.\n" +
                      "With a lossless plan (\"kvFill\": \"lossless\") and --temp 0, decoding is self-speculative: the same text,\n" +
                      "drafted and verified in batches. Text goes to standard output; timings and notices to standard error.\n" +
                      "On an encoder (a bert GGUF from si convert --onnx) it prints the prompt's sentence embedding as one JSON array\n" +
                      "(by the plan with --plan; -n, --temp, --top-k, --top-p, --seed, --context, --no-bos and --stats apply to decoders only).")
    {
        _context = context;
        foreach (var option in new Option[] { _model, _prompt, _count, _temperature, _topK, _topP, _seed, _contextLength, _noBos, _plan, _stats, _engine, _threads })
            Options.Add(option);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var modelPath = ModelArgument.Resolve(args.GetRequiredValue(_model), _context);
        var planPath = args.GetValue(_plan);
        var count = args.GetValue(_count);
        var options = new SamplingOptions
        {
            Temperature = args.GetValue(_temperature),
            TopK = args.GetValue(_topK),
            TopP = args.GetValue(_topP),
            Seed = args.GetValue(_seed),
        };
        var error = _context.Error;

        var factory = new EngineFactory(EngineKinds.Parse(args.GetValue(_engine)), _context.EngineCache);
        using (var file = GgufFile.Open(modelPath))
        {
            // An encoder is loaded from this open file (its header is read once); a decoder's engine maps the file itself.
            if (EngineFactory.IsEncoder(file))
                return EncoderRun.Run(factory, file, planPath, args.GetRequiredValue(_prompt), args.GetValue(_threads) ?? 0, _context);
        }
        using var loaded = factory.Load(modelPath, planPath);
        var engine = loaded.Engine;
        if (loaded.Build is { } build) error.WriteLine(build.Describe());
        PrintDequantized(loaded.Dequantized, error);
        var trained = engine.Config.ContextLength;
        if (args.GetValue(_contextLength) is { } asked && asked > trained)
            error.WriteLine(string.Create(Inv, $"warning: --context {asked} is above the {trained} positions the model was trained on; text past position {trained} is likely to degrade."));
        var tokenizer = Tokenizers.FromGguf(modelPath);
        using var session = engine.CreateSession(new SessionOptions { ContextLength = args.GetValue(_contextLength) ?? 0, Threads = args.GetValue(_threads) ?? 0 });
        var promptTokens = tokenizer.Encode(args.GetRequiredValue(_prompt), addSpecial: !args.GetValue(_noBos), parseSpecial: false);
        if (promptTokens.Length == 0) throw new UsageException("The prompt is empty and --no-bos leaves no token to start from.");

        // Evaluates the prompt, so a prompt that does not fit fails here, before any of it is printed.
        var generator = new TextGenerator(session, new Sampler(options, engine.Config.VocabSize), tokenizer.EosId);
        var tokens = generator.Generate(promptTokens, count);

        var decoder = new Utf8StreamDecoder();
        var text = _context.Text;
        // SentencePiece marks word starts with a space; the one on the first piece after BOS is not part of the text.
        var atStart = tokenizer.AddSpacePrefix;
        void Emit(int token)
        {
            var piece = tokenizer.TokenBytes(token);
            if (atStart && !piece.IsEmpty) { if (piece[0] == (byte)' ') piece = piece[1..]; atStart = false; }
            text.Write(decoder.Push(piece));
        }
        foreach (var t in promptTokens) Emit(t);
        var produced = 0;
        foreach (var token in tokens)
        {
            // The generator stops at EOS; a chat model's other end-of-turn tokens (llama.cpp's end of generation) too.
            if (tokenizer.IsEndOfGeneration(token)) break;
            Emit(token);
            text.Flush();
            produced++;
        }
        text.WriteLine(decoder.Flush());
        text.Flush();

        PrintTimings(loaded, planPath, session, generator, promptTokens.Length, produced, error);
        if (generator.StopReason == GenerationStop.ContextFull)
            error.WriteLine(string.Create(Inv,
                $"stopped after {produced} of {count} tokens: the context of {session.ContextLength} positions is full ({promptTokens.Length} prompt tokens; --context sets its size, the model was trained on {trained})."));
        if (args.GetValue(_stats)) StatsPrinter.Print(session.Statistics, engine.Schedule, error);
        return ExitCodes.Success;
    }

    /// <summary>
    /// Weights the load expanded to F32 (types the engine does not multiply directly): the memory that takes is not
    /// the file's size, which a user watching a 1.2 GB F16 model take 2.4 GB more should be told.
    /// </summary>
    private static void PrintDequantized(DequantizedWeights d, TextWriter error)
    {
        if (d.Tensors == 0) return;
        error.WriteLine(string.Create(Inv,
            $"note: {d.Tensors} tensors not stored as F32 ({Size(d.FileBytes)} in the file) were expanded to F32 at load and take {Size(d.Bytes)} of memory (the reference engine multiplies F32, Q8_0 and Q4_0 matrices; generated engines F32 only)"));
    }

    /// <summary>"1,234 bytes", "3.5 MiB", "4.72 GiB".</summary>
    internal static string Size(long bytes) => bytes switch
    {
        < 1 << 20 => string.Create(Inv, $"{bytes:N0} bytes"),
        < 1 << 30 => string.Create(Inv, $"{bytes / (double)(1 << 20):F1} MiB"),
        _ => string.Create(Inv, $"{bytes / (double)(1 << 30):F2} GiB"),
    };

    /// <summary>
    /// Which engine ran, then prompt and decode speed apart. Both first calls pay for JIT compilation (and the prompt
    /// for the first reads of the weights), so the decode rate is given over the steps after the first. A generated
    /// engine's build (compilation or cache read) was reported before the run and is in neither figure.
    /// </summary>
    private static void PrintTimings(LoadedEngine loaded, string? planPath, IInferenceSession session, TextGenerator generator,
        int promptTokens, int produced, TextWriter error)
    {
        var plan = planPath is null ? "the full model (no plan)" : $"plan {Path.GetFileName(planPath)}: {loaded.Engine.Schedule.Describe()}";
        var mode = generator.UsesSpeculation ? ", self-speculative decoding" : "";
        error.WriteLine($"{loaded.Description}, {plan}{mode}");
        error.WriteLine(string.Create(Inv,
            $"{promptTokens} prompt tokens in {generator.PromptSeconds * 1000:F1} ms ({promptTokens / Math.Max(generator.PromptSeconds, 1e-9):F1} tokens/s, first call: JIT compilation included)"));

        // Decode steps: positions evaluated for generated tokens (one forward pass each, or a share of a verification
        // pass when decoding is self-speculative). The first generated token comes from the prompt's logits.
        var steps = session.Statistics.GeneratedTokens;
        var ms = generator.GenerationSeconds * 1000;
        var rate = steps switch
        {
            0 => "no decode step",
            1 => string.Create(Inv, $"{steps / Math.Max(generator.GenerationSeconds, 1e-9):F1} tokens/s, JIT compilation included"),
            _ => string.Create(Inv,
                $"{(steps - 1) / Math.Max(generator.GenerationSeconds - generator.FirstDecodeSeconds, 1e-9):F1} tokens/s after the first step; the first took {generator.FirstDecodeSeconds * 1000:F1} ms, JIT compilation included"),
        };
        error.WriteLine(string.Create(Inv, $"{produced} generated tokens, {steps} decode steps in {ms:F1} ms ({rate})"));
    }
}
