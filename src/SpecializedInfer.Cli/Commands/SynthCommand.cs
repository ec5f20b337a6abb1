using System.CommandLine;
using System.Diagnostics;
using SpecializedInfer.Gguf;
using SpecializedInfer.Planning;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Cli.Commands;

/// <summary><c>si synth</c>: a GGUF of a real LLaMA-family shape (llama, qwen2) with seeded random weights.</summary>
public sealed class SynthCommand : Command
{
    private static readonly Dictionary<string, GgmlType> Types = new()
    {
        ["f32"] = GgmlType.F32, ["f16"] = GgmlType.F16, ["bf16"] = GgmlType.BF16, ["q8_0"] = GgmlType.Q8_0,
    };

    private readonly CliContext _context;
    private readonly Option<string> _output = CliOptions.RequiredPath("--output", "OUT.gguf", "The GGUF file to write.");
    private readonly Option<string?> _shape = CliOptions.Choice("--shape", "A real model's shape; the options below override its values.", SyntheticModelSpec.Presets.Keys.ToList());
    private readonly Option<int?> _dim = Dimension("--dim", "D", "Model width.");
    private readonly Option<int?> _hidden = Dimension("--hidden", "H", "Feed-forward width.");
    private readonly Option<int?> _layers = Dimension("--layers", "L", "Number of layers.");
    private readonly Option<int?> _heads = Dimension("--heads", "N", "Attention heads.");
    private readonly Option<int?> _kvHeads = CliOptions.OptionalWhole("--kv-heads", "K", "Key/value heads (0: as many as --heads).", 0, 1 << 16);
    private readonly Option<int?> _vocab = Dimension("--vocab", "V", "Vocabulary size.");
    private readonly Option<int?> _contextLength = CliOptions.OptionalWhole("--context", "C", "Trained context length (default: the shape's, or 2048).", 1, 1 << 20);
    // Words rather than Option<bool>: System.CommandLine lets a bool option stand alone and leaves "yes" unmatched.
    private readonly Option<string?> _separateOutput = CliOptions.Choice("--separate-output", "An output matrix of its own instead of the embedding's (default: the shape's, or false).", ["true", "false"]);
    private readonly Option<string?> _type = CliOptions.Choice("--type", "Type of the weight matrices (default: f32).", Types.Keys.ToList());
    private readonly Option<ulong> _seed = CliOptions.Whole("--seed", "S", "Seed of the weights.", 1UL, 0UL, ulong.MaxValue);

    public SynthCommand(CliContext context)
        : base("synth", "Write a LLaMA-shaped GGUF with seeded random weights.\n" +
                        "Without --shape, --dim, --hidden, --layers, --heads and --vocab are required.")
    {
        _context = context;
        foreach (var option in new Option[] { _output, _shape, _dim, _hidden, _layers, _heads, _kvHeads, _vocab, _contextLength, _separateOutput, _type, _seed })
            Options.Add(option);
        Validators.Add(result =>
        {
            // Whether options were given, not their values: a value that failed to parse is reported by its option.
            if (result.GetResult(_shape) is not null) return;
            var missing = new[] { _dim, _hidden, _layers, _heads, _vocab }.Where(o => result.GetResult(o) is null).Select(o => o.Name).ToList();
            if (missing.Count > 0) result.AddError($"Without --shape, {CliOptions.Words(missing, "and")} {(missing.Count == 1 ? "is" : "are")} required.");
        });
        SetAction(Run);
    }

    private static Option<int?> Dimension(string name, string valueName, string description) =>
        CliOptions.OptionalWhole(name, valueName, description, 1, 1 << 16);

    private int Run(ParseResult args)
    {
        var output = args.GetRequiredValue(_output);
        var preset = args.GetValue(_shape) is { } shape ? SyntheticModelSpec.Presets[shape] : null;
        // The validator guarantees each dimension comes from the option or the preset.
        int Dim(Option<int?> option, int? fallback) => args.GetValue(option) ?? fallback!.Value;
        var spec = new SyntheticModelSpec
        {
            Name = preset?.Name ?? "synthetic",
            Dim = Dim(_dim, preset?.Dim),
            HiddenDim = Dim(_hidden, preset?.HiddenDim),
            Layers = Dim(_layers, preset?.Layers),
            Heads = Dim(_heads, preset?.Heads),
            KvHeads = args.GetValue(_kvHeads) ?? preset?.KvHeads ?? 0,
            VocabSize = Dim(_vocab, preset?.VocabSize),
            ContextLength = args.GetValue(_contextLength) ?? preset?.ContextLength ?? 2048,
            TiedOutput = args.GetValue(_separateOutput) is { } separate ? separate == "false" : preset?.TiedOutput ?? true,
            Seed = args.GetValue(_seed),
            MatrixType = Types[args.GetValue(_type) ?? "f32"],
            // What the shape fixes beyond sizes: the architecture, its rope base and scaling, its epsilon, its vocabulary's kind.
            Architecture = preset?.Architecture ?? DecoderArchitecture.Llama,
            RopeTheta = preset?.RopeTheta ?? 10000f,
            NormEps = preset?.NormEps ?? 1e-5f,
            Llama3RopeScaling = preset?.Llama3RopeScaling ?? false,
            ByteLevelVocabulary = preset?.ByteLevelVocabulary, // Llama 3's, Qwen2's, SmolLM's byte-level BPE, as the real downloads have
        };
        try { spec.Validate(); }
        catch (ArgumentException e) { throw new UsageException(UserMessage.Of(e)); }

        var clock = Stopwatch.StartNew();
        SyntheticModel.Write(spec, output);
        _context.Error.WriteLine($"wrote {output}: dim {spec.Dim}, hidden {spec.HiddenDim}, {spec.Layers} layers, {spec.Heads} heads / {spec.EffectiveKvHeads} KV heads, vocab {spec.VocabSize}, {spec.MatrixType}, {new FileInfo(output).Length:N0} bytes in {clock.Elapsed.TotalSeconds:F1} s");
        return ExitCodes.Success;
    }
}
