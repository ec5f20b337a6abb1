using System.Diagnostics;
using SpecializedInfer.Gguf;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Cli.Commands;

/// <summary><c>si synth</c>: a GGUF of a real LLaMA shape with seeded random weights.</summary>
public sealed class SynthCommand : ICommand
{
    public string Name => "synth";
    public string Summary => "write a LLaMA-shaped GGUF with seeded random weights";
    public string Usage =>
        "usage: si synth --output OUT.gguf [--shape " + string.Join("|", SyntheticModelSpec.Presets.Keys) + "]\n" +
        "                [--dim D] [--hidden H] [--layers L] [--heads N] [--kv-heads K] [--vocab V] [--context C]\n" +
        "                [--separate-output true|false] [--type f32|f16|bf16|q8_0] [--seed S]\n" +
        "  Options after --shape override that shape's values; without --shape, --dim, --hidden, --layers, --heads and --vocab are required.";

    public int Run(CommandLine args, CliContext context)
    {
        var output = args.RequiredString("output");
        var shapeName = args.String("shape");
        SyntheticModelSpec? preset = null;
        if (shapeName is not null && !SyntheticModelSpec.Presets.TryGetValue(shapeName, out preset))
            throw new UsageException($"Unknown shape '{shapeName}'; known: {string.Join(", ", SyntheticModelSpec.Presets.Keys)}.");
        int Dim(string name, int? fallback)
        {
            var value = args.Int(name, fallback ?? 0, 1, 1 << 16);
            return value > 0 ? value : throw new UsageException($"Option --{name} is required without --shape.");
        }
        var separate = args.String("separate-output");
        var spec = new SyntheticModelSpec
        {
            Name = preset?.Name ?? "synthetic",
            Dim = Dim("dim", preset?.Dim),
            HiddenDim = Dim("hidden", preset?.HiddenDim),
            Layers = Dim("layers", preset?.Layers),
            Heads = Dim("heads", preset?.Heads),
            KvHeads = args.Int("kv-heads", preset?.KvHeads ?? 0, 0, 1 << 16),
            VocabSize = Dim("vocab", preset?.VocabSize),
            ContextLength = args.Int("context", preset?.ContextLength ?? 2048, 1, 1 << 20),
            TiedOutput = separate switch
            {
                null => preset?.TiedOutput ?? true,
                "true" => false,
                "false" => true,
                _ => throw new UsageException($"Option --separate-output takes true or false, got '{separate}'."),
            },
            Seed = args.ULong("seed", 1),
            MatrixType = args.String("type")?.ToLowerInvariant() switch
            {
                null or "f32" => GgmlType.F32,
                "f16" => GgmlType.F16,
                "bf16" => GgmlType.BF16,
                "q8_0" => GgmlType.Q8_0,
                var t => throw new UsageException($"Option --type takes f32, f16, bf16 or q8_0, got '{t}'."),
            },
        };
        args.EnsureAllUsed(maxPositionals: 0);
        try { spec.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }

        var clock = Stopwatch.StartNew();
        SyntheticModel.Write(spec, output);
        context.Error.WriteLine($"wrote {output}: dim {spec.Dim}, hidden {spec.HiddenDim}, {spec.Layers} layers, {spec.Heads} heads / {spec.EffectiveKvHeads} KV heads, vocab {spec.VocabSize}, {spec.MatrixType}, {new FileInfo(output).Length:N0} bytes in {clock.Elapsed.TotalSeconds:F1} s");
        return ExitCodes.Success;
    }
}
