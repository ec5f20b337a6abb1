using System.Diagnostics;
using System.Globalization;
using SpecializedInfer.Cli.Engines;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Cli.Commands;

/// <summary>
/// <c>si run</c> on an encoder (a bert GGUF): the prompt's sentence embedding, one JSON array of round-trip floats on
/// standard output (what a script pipes on), and on standard error which encoder ran, under which plan, how many
/// tokens and steps the sentence took and how long. One meaning for both executors: only the loading differs.
/// </summary>
internal static class EncoderRun
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(EngineFactory factory, GgufFile model, string? planPath, string prompt, int threads, CliContext context)
    {
        var error = context.Error;
        using var loaded = factory.LoadEncoder(model, planPath, threads);
        if (loaded.Build is { } build) error.WriteLine(build.Describe());

        var tokens = loaded.Encoder.Tokenizer.Encode(prompt);
        var steps = new int[1];
        var clock = Stopwatch.StartNew();
        var embedding = loaded.Encoder.EmbedTokens([tokens], steps)[0];
        var ms = clock.Elapsed.TotalMilliseconds;

        var text = context.Text;
        text.WriteLine("[" + string.Join(", ", embedding.Select(v => v.ToString("R", Inv))) + "]");
        text.Flush();

        var plan = planPath is null ? "the full model (no plan)" : $"plan {Path.GetFileName(planPath)}: {loaded.Schedule.Describe()}";
        error.WriteLine($"{loaded.Description}, {plan}");
        error.WriteLine(string.Create(Inv,
            $"{tokens.Length} tokens ([CLS] and [SEP] included), {steps[0]} of {loaded.Schedule.Steps.Count} steps, embedding of {embedding.Length} dimensions in {ms:F1} ms (first call: JIT compilation included)"));
        return ExitCodes.Success;
    }
}
