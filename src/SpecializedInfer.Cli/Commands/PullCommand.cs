using System.CommandLine;
using SpecializedInfer.Hub;

namespace SpecializedInfer.Cli.Commands;

/// <summary>
/// <c>si pull hf:OWNER/REPO/FILE</c>: downloads a model from Hugging Face into the cache (resumable, checked against the
/// hub's SHA-256), converts a llama2.c checkpoint to GGUF, and prints the path of the GGUF file to load.
/// </summary>
public sealed class PullCommand : Command
{
    private readonly CliContext _context;
    private readonly Argument<string> _model = CliOptions.File("hf:OWNER/REPO/FILE", "The Hugging Face file: owner, repository and the file's path in it.");
    private readonly Option<string?> _tokenizer = CliOptions.OptionalPath("--tokenizer", "TOK",
        "The llama2.c tokenizer of a llama2.c checkpoint: a path, hf:OWNER/REPO/FILE or a URL (default: tokVOCAB.bin or tokenizer.bin beside it, or llama2.c's for 32000 tokens).",
        what: "a path, hf:OWNER/REPO/FILE or a URL");
    private readonly Option<string?> _cache = CliOptions.OptionalPath("--cache", "DIR",
        $"The cache folder (default: {ModelCache.EnvironmentVariable}, else the XDG cache or LocalAppData).");

    public PullCommand(CliContext context)
        : base("pull", $"Download a model from Hugging Face ({HubSettings.EndpointVariable}, {HubSettings.TokenVariable} honoured) into the cache and print the GGUF file's path.\n" +
                       "Interrupted downloads resume; LFS files are checked against the hub's SHA-256; llama2.c checkpoints are converted to GGUF.")
    {
        _context = context;
        Arguments.Add(_model);
        foreach (var option in new Option[] { _tokenizer, _cache }) Options.Add(option);
        SetAction(Run);
    }

    private int Run(ParseResult args)
    {
        var text = args.GetRequiredValue(_model);
        if (!HubReference.IsHubReference(text))
            throw new UsageException($"si pull takes a Hugging Face file as hf:OWNER/REPO/FILE (for example hf:karpathy/tinyllamas/stories15M.bin), got '{text}'.");
        var reference = ModelArgument.Checked(() => HubReference.Parse(text));
        var settings = HubSettings.FromEnvironment(args.GetValue(_cache));
        using var downloader = new HubDownloader(settings);
        var puller = new ModelPuller(settings, downloader);
        var pulled = DownloadProgressDisplay.Run(_context, progress =>
            ModelArgument.Checked(() => puller.PullAsync(reference, args.GetValue(_tokenizer), progress).GetAwaiter().GetResult()));

        var error = _context.Error;
        if (!pulled.Downloaded && !pulled.Converted) error.WriteLine($"{reference} is already in the cache");
        else if (pulled.Downloaded) error.WriteLine($"downloaded {reference} ({new FileInfo(puller.Cache.PathOf(reference)).Length:N0} bytes)");
        if (pulled.Converted) error.WriteLine($"converted the llama2.c checkpoint to GGUF with the tokenizer {pulled.Tokenizer}");
        _context.Text.WriteLine(pulled.Path);
        return ExitCodes.Success;
    }
}
