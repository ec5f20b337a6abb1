using System.Globalization;
using System.Text;
using SpecializedInfer;
using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Gguf;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;
using TinyStories;

// usage: TinyStories [--model stories260K.gguf] [--plan full|fast] [--prompt TEXT] [-n 200] [--temp 0] [--seed 42]
var options = Options.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("usage: TinyStories [--model PATH] [--plan full|fast] [--prompt TEXT] [-n 200] [--temp 0] [--seed 42]");
    return 2;
}

try
{
    // A path, a bare name (SPECIALIZEDINFER_MODELS, ../shared/models, the cache) or hf:OWNER/REPO/FILE pulled before
    // (si pull): the CLI's lookup, without downloads, so the NativeAOT binary links no HTTP stack.
    var modelPath = ModelLocator.Find(options.Model ?? "stories260K.gguf");
    using ILanguageModel engine = options.Plan == "fast" ? StoriesFast.Load(modelPath) : StoriesFull.Load(modelPath);
    using var file = GgufFile.Open(modelPath);
    var tokenizer = LlamaTokenizer.FromGguf(file);
    using var session = engine.CreateSession(512);
    var sampler = new Sampler(new SamplingOptions { Temperature = options.Temperature, Seed = options.Seed }, engine.Config.VocabSize);
    var generator = new TextGenerator(session, sampler, tokenizer.EosId);

    var prompt = tokenizer.Encode(options.Prompt, addBos: true);
    var generated = generator.Generate(prompt, options.Count).ToList();
    var story = prompt.Skip(1).Concat(generated).ToArray();

    Console.OutputEncoding = new UTF8Encoding(false);
    // SentencePiece marks word starts with a space; the one on the first word is not part of the story.
    Console.WriteLine(tokenizer.Decode(story).TrimStart(' '));
    var stats = session.Statistics;
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{engine.Name}: {generated.Count} tokens, {stats.GeneratedTokens / Math.Max(generator.GenerationSeconds, 1e-9):F0} tokens/s, " +
        $"{stats.MeanStepsPerGeneratedToken:F2} of {engine.Schedule.Steps.Count} layers per generated token " +
        $"(Vector512 {(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "accelerated" : "not accelerated")})"));
    return 0;
}
catch (Exception e) when (e is ModelFormatException or PlanException or IOException or UnauthorizedAccessException or ArgumentException)
{
    // A missing or wrong model file, or a prompt that does not fit: the message names the file and what was expected.
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

internal sealed record Options(string? Model, string Plan, string Prompt, int Count, float Temperature, ulong Seed)
{
    public static Options? Parse(string[] args)
    {
        var o = new Options(null, "fast", "Once upon a time", 200, 0f, 42);
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                o = args[i] switch
                {
                    "--model" => o with { Model = Next() },
                    "--plan" => Next() is var p && p is "full" or "fast" ? o with { Plan = p } : null,
                    "--prompt" => o with { Prompt = Next() },
                    "-n" => o with { Count = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--temp" => o with { Temperature = float.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--seed" => o with { Seed = ulong.Parse(Next(), CultureInfo.InvariantCulture) },
                    _ => null,
                };
            }
            catch (Exception e) when (e is FormatException or OverflowException or ArgumentException) { return null; }
            if (o is null) return null;
        }
        return o;
    }
}
