using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using SpecializedInfer.Analysis;
using SpecializedInfer.Models;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Cli.Commands;

/// <summary>
/// <c>si analyze</c>: which layers matter. The numbers come from <see cref="LayerAnalysis"/>; this command reads the
/// files, shows progress, and writes the tables, the JSON report and the plots (<see cref="AnalysisPlots"/>).
/// </summary>
public sealed class AnalyzeCommand : Command
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private readonly CliContext _context;
    private readonly Option<string> _model = CliOptions.RequiredPath("--model", "MODEL.gguf", "The GGUF model to analyze.");
    private readonly Option<string> _text = CliOptions.RequiredPath("--text", "TEXT.txt", "The text whose perplexity is measured (and whose hidden states are, without --prompts).");
    private readonly Option<string?> _prompts = CliOptions.OptionalPath("--prompts", "PROMPTS.txt", "One sequence per line for the hidden-state measures (Block Influence, angular distance, LaCo).");
    private readonly Option<string?> _json = CliOptions.OptionalPath("--json", "OUT.json", "Write the whole report as JSON.");
    private readonly Option<string?> _plot = CliOptions.OptionalPath("--plot", "DIR", "Write PNG plots into this folder (created if missing).");
    private readonly Option<int> _block = CliOptions.Whole("--block", "N", "Layers per block for the per-block figures.", 2, 1, 1 << 10);
    private readonly Option<int> _window = CliOptions.Whole("--window", "N", "Perplexity window in tokens.", 256, 2, 1 << 20);
    private readonly Option<float> _lacoThreshold = CliOptions.Real("--laco-threshold", "T", "LaCo: keep a merge whose final states have mean cosine at least T to the full model's.", 0.9f, -1f, 1f);
    private readonly Option<int> _lacoLayers = CliOptions.Whole("--laco-layers", "K", "LaCo: try merges of 2 to K consecutive layers.", 3, 2, 1 << 10);

    public AnalyzeCommand(CliContext context)
        : base("analyze", "Measure which layers matter: Block Influence, angular distance, removal perplexity, SLEB, weight similarity, LaCo.\n" +
                          "Per layer and per block of --block layers: ShortGPT's Block Influence (1 - mean cosine between the states\n" +
                          "entering and leaving), Gromov et al.'s angular distance arccos(cos)/pi for every span (all tokens and the\n" +
                          "last token), and the text's perplexity with the layer, its attention or its feed-forward removed; SLEB's\n" +
                          "greedy removal order with the perplexity after each; the cosine of every layer pair's weights per tensor\n" +
                          "kind; LaCo merges of consecutive layers, kept when their final states stay within --laco-threshold.")
    {
        _context = context;
        foreach (var option in new Option[] { _model, _text, _prompts, _json, _plot, _block, _window, _lacoThreshold, _lacoLayers }) Options.Add(option);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var context = _context;
        var modelPath = ModelArgument.Resolve(args.GetRequiredValue(_model), _context);
        var textPath = args.GetRequiredValue(_text);
        var promptsPath = args.GetValue(_prompts);
        var jsonPath = args.GetValue(_json);
        var plotDir = args.GetValue(_plot);
        var window = args.GetValue(_window);
        var options = new LayerAnalysisOptions
        {
            BlockSize = args.GetValue(_block), LacoThreshold = args.GetValue(_lacoThreshold), LacoMaxLayers = args.GetValue(_lacoLayers),
        };
        var text = File.ReadAllText(textPath);
        if (string.IsNullOrWhiteSpace(text)) throw new InvalidDataException($"{textPath} has no text to measure perplexity on.");
        var prompts = promptsPath is null ? null : File.ReadAllLines(promptsPath).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        if (prompts is { Count: 0 }) throw new InvalidDataException($"{promptsPath} has no prompts (one per line).");
        if (jsonPath is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(jsonPath))))
            throw new DirectoryNotFoundException($"The folder of --json {jsonPath} does not exist.");

        using var weights = LlamaWeights.Load(modelPath);
        if (weights.Config.Layers < 2) throw new InvalidDataException($"{modelPath} has one layer: there is nothing to compare it with.");
        var tokenizer = Tokenizers.FromGguf(weights.File);
        var tokens = tokenizer.Encode(text, addSpecial: true, parseSpecial: false);
        if (tokens.Length < 2) throw new InvalidDataException($"{textPath} is a single token: there is nothing to predict.");
        if (window > weights.Config.ContextLength)
            throw new UsageException($"A perplexity window of {window} tokens exceeds the model's context of {weights.Config.ContextLength}.");
        var windows = TextWindows.Split(tokens, window);
        var sequences = prompts?.Select(p => tokenizer.Encode(p, addSpecial: true, parseSpecial: false)).ToList() ?? windows;
        if (sequences.Max(s => s.Length) > weights.Config.ContextLength)
            throw new InvalidDataException($"A prompt in {promptsPath} has more tokens than the model's context of {weights.Config.ContextLength}.");

        LayerAnalysisReport report;
        if (context.Out.Profile.Capabilities.Interactive)
            report = context.Out.Progress().AutoClear(true).Start(ctx =>
            {
                ProgressTask? task = null;
                return LayerAnalysis.Run(weights, sequences, windows, options, new Reporter(p =>
                {
                    task ??= ctx.AddTask("analyzing", maxValue: p.Total);
                    task.Description = p.Phase;
                    task.Value = p.Done;
                }));
            });
        else report = LayerAnalysis.Run(weights, sequences, windows, options);

        Print(report, modelPath, textPath, promptsPath, context);
        if (jsonPath is not null)
        {
            File.WriteAllBytes(jsonPath, ToJson(report, modelPath, textPath, promptsPath));
            context.Error.WriteLine($"wrote {jsonPath}");
        }
        if (plotDir is not null)
            foreach (var file in AnalysisPlots.Write(report, plotDir)) context.Error.WriteLine($"wrote {file}");
        return ExitCodes.Success;
    }

    private static void Print(LayerAnalysisReport r, string modelPath, string textPath, string? promptsPath, CliContext context)
    {
        var lines = context.Text;
        lines.WriteLine($"model {Path.GetFileName(modelPath)}: {r.Layers} layers; perplexity on {Path.GetFileName(textPath)} ({r.Predictions:N0} predicted tokens in {r.Windows} windows): {F(r.Full.Perplexity, "F4")}");
        lines.WriteLine(string.Create(Inv, $"hidden states over {r.StateTokens:N0} tokens in {r.StateSequences} sequences ({(promptsPath is null ? "the text's windows" : Path.GetFileName(promptsPath))})"));
        lines.Flush();

        // Short headers: a redirected console is 80 columns wide. BI: Block Influence; angular: distance to the next state.
        var perLayer = NewTable("layer", "BI", "angular, all", "angular, last", "ppl -layer", "ppl -attn", "ppl -ffn");
        foreach (var l in r.PerLayer)
            Row(perLayer, $"{l.Layer}", F(l.BlockInfluence, "F4"), F(l.AngularDistanceAll, "F4"), F(l.AngularDistanceLast, "F4"),
                F(l.PerplexityWithoutLayer, "F3"), F(l.PerplexityWithoutAttention, "F3"), F(l.PerplexityWithoutFeedForward, "F3"));
        context.Out.Write(perLayer);

        var perBlock = NewTable($"block of {r.Options.BlockSize}", "BI", "angular, all", "angular, last", "ppl -block");
        foreach (var b in r.PerBlock)
            Row(perBlock, $"{b.First}-{b.First + b.Count - 1}", F(b.BlockInfluence, "F4"), F(b.AngularDistanceAll, "F4"), F(b.AngularDistanceLast, "F4"), F(b.PerplexityWithoutBlock, "F3"));
        context.Out.Write(perBlock);

        // Angular distance for every span n (rows) from every first layer (columns), all tokens.
        var angular = NewTable(["angular, n \\ from", .. Enumerable.Range(0, r.Layers).Select(l => $"{l}")]);
        for (var n = 1; n <= r.Layers; n++)
            Row(angular, [$"{n}", .. Enumerable.Range(0, r.Layers).Select(l => r.AngularDistances.FirstOrDefault(a => a.N == n && a.Layer == l) is { } a ? F(a.AllTokens, "F3") : "")]);
        context.Out.Write(angular);

        var sleb = NewTable("SLEB round", "removed layer", "layers left", "perplexity");
        Row(sleb, "0", "", $"{r.Layers}", F(r.Full.Perplexity, "F3"));
        foreach (var (s, i) in r.Sleb.Select((s, i) => (s, i))) Row(sleb, $"{i + 1}", $"{s.Removed}", $"{s.LayersLeft}", F(s.Perplexity, "F3"));
        context.Out.Write(sleb);

        // The most similar layer pairs, by their matrices (norm weights are in the JSON).
        var matrices = r.WeightSimilarity.Where(w => w.Kind is not ("attn_norm" or "ffn_norm")).ToList();
        var sharing = NewTable(["layers", "mean cos", .. matrices.Select(w => w.Kind.Replace("attn_output", "o").Replace("attn_", "").Replace("ffn_", ""))]);
        foreach (var c in r.SharingCandidates.Take(5))
            Row(sharing, [$"{c.LayerA}, {c.LayerB}", F(c.MeanMatrixCosine, "F4"), .. matrices.Select(w => F(w.Cosine[c.LayerA][c.LayerB], "F3"))]);
        context.Out.Write(sharing);

        var laco = NewTable("LaCo merge", "final-state cos", $"kept (≥ {F(r.Options.LacoThreshold, "G4")})", "perplexity");
        foreach (var c in r.Laco) Row(laco, $"{c.First}-{c.First + c.Count - 1}", F(c.FinalStateCosine, "F4"), c.Kept ? "yes" : "no", F(c.Perplexity, "F3"));
        context.Out.Write(laco);
    }

    private static Table NewTable(params string[] header)
    {
        var table = new Table();
        foreach (var (h, i) in header.Select((h, i) => (h, i))) table.AddColumn(i == 0 ? new TableColumn(h) : new TableColumn(h).RightAligned());
        return table;
    }

    private static void Row(Table table, params string[] cells) => table.AddRow(cells.Select(c => new Text(c)).ToArray());

    private static string F(double value, string format) => double.IsNaN(value) ? "n/a" : value.ToString(format, Inv);

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // Perplexity of a plan that removes everything is not measured: NaN, written as the string "NaN".
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The report as JSON, with the files it was measured on.</summary>
    internal static byte[] ToJson(LayerAnalysisReport r, string modelPath, string textPath, string? promptsPath) =>
        JsonSerializer.SerializeToUtf8Bytes(new
        {
            model = Path.GetFullPath(modelPath),
            text = Path.GetFullPath(textPath),
            prompts = promptsPath is null ? null : Path.GetFullPath(promptsPath),
            report = r,
        }, Json);

    /// <summary>Reports on the calling thread (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class Reporter(Action<AnalysisProgress> report) : IProgress<AnalysisProgress>
    {
        public void Report(AnalysisProgress value) => report(value);
    }
}
