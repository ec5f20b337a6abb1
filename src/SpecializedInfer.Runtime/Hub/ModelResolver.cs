namespace SpecializedInfer.Hub;

/// <summary>
/// Turns what a user or a test calls a model into the GGUF file to load, looking in this order:
/// <list type="number">
/// <item>an explicit path: a file that exists as named (relative to the current folder);</item>
/// <item><c>hf:OWNER/REPO/FILE</c>: the cache, downloading (and converting) it if the cache lacks it;</item>
/// <item>a bare file name in the folder of <c>SPECIALIZEDINFER_MODELS</c>;</item>
/// <item>then in <c>../shared/models</c> beside the repository (found from the current folder or the app's own);</item>
/// <item>then anywhere in the cache (a name pulled before, e.g. <c>stories15M.gguf</c>).</item>
/// </list>
/// A name with a folder in it is a path and only step 1 applies. A model found nowhere is a
/// <see cref="ModelNotFoundException"/> listing every place looked at.
/// </summary>
public sealed class ModelResolver
{
    public const string ModelsVariable = "SPECIALIZEDINFER_MODELS";

    // The hub settings are read only when an hf: reference needs them: finding a file by name must not fail on a
    // malformed HF_ENDPOINT it never uses.
    private readonly Lazy<HubSettings> _settings;

    // How an hf: reference missing from the cache is fetched; null in a resolver that does not download. Kept out of
    // the local resolver's code, so an app that only looks models up (a NativeAOT example) links no HTTP stack.
    private readonly Func<HubSettings, HubReference, string?, IProgress<DownloadProgress>?, CancellationToken, Task<string>>? _pull;

    /// <summary>A resolver that downloads <c>hf:</c> references missing from the cache.</summary>
    public ModelResolver(HubSettings settings, IReadOnlyList<ModelFolder> folders) : this(() => settings, folders, settings.CacheDirectory, PullAsync) { }

    private ModelResolver(Func<HubSettings> settings, IReadOnlyList<ModelFolder> folders, string cacheDirectory,
        Func<HubSettings, HubReference, string?, IProgress<DownloadProgress>?, CancellationToken, Task<string>>? pull)
    {
        _settings = new Lazy<HubSettings>(settings);
        Folders = folders;
        CacheDirectory = cacheDirectory;
        _pull = pull;
    }

    public HubSettings Settings => _settings.Value;

    /// <summary>The download cache, searched last for a bare name.</summary>
    public string CacheDirectory { get; }

    /// <summary>The folders searched for a bare name, in order, before the cache.</summary>
    public IReadOnlyList<ModelFolder> Folders { get; }

    /// <summary>
    /// A resolver over the environment's folders and hub settings that downloads <c>hf:</c> references missing from
    /// the cache; <paramref name="cacheDirectory"/> overrides the cache folder.
    /// </summary>
    public static ModelResolver FromEnvironment(string? cacheDirectory = null) =>
        new(() => HubSettings.FromEnvironment(cacheDirectory), EnvironmentFolders(), cacheDirectory ?? ModelCache.DefaultDirectory, PullAsync);

    /// <summary>
    /// The same lookup without downloads: an <c>hf:</c> reference is found if it was pulled before, else the error says
    /// to pull it. What examples, tests and benchmarks use (<see cref="ModelLocator"/>): they never touch the network.
    /// </summary>
    public static ModelResolver Local(string? cacheDirectory = null) =>
        new(() => HubSettings.FromEnvironment(cacheDirectory), EnvironmentFolders(), cacheDirectory ?? ModelCache.DefaultDirectory, pull: null);

    private static async Task<string> PullAsync(HubSettings settings, HubReference reference, string? tokenizer, IProgress<DownloadProgress>? progress, CancellationToken cancellation)
    {
        using var downloader = new HubDownloader(settings);
        var pulled = await new ModelPuller(settings, downloader).PullAsync(reference, tokenizer, progress, cancellation).ConfigureAwait(false);
        return pulled.Path;
    }

    /// <summary><c>SPECIALIZEDINFER_MODELS</c> (when set), then <c>../shared/models</c> beside the repository (when found).</summary>
    public static IReadOnlyList<ModelFolder> EnvironmentFolders()
    {
        var folders = new List<ModelFolder>();
        var fromEnv = Environment.GetEnvironmentVariable(ModelsVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv)) folders.Add(new ModelFolder(Path.GetFullPath(fromEnv), ModelsVariable));
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (!File.Exists(Path.Combine(dir.FullName, "SpecializedInfer.sln"))) continue;
                var shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "models"));
                if (folders.All(f => f.Path != shared)) folders.Add(new ModelFolder(shared, "../shared/models"));
                break;
            }
        }
        return folders;
    }

    /// <summary>The GGUF file <paramref name="model"/> names (see the class summary for the order).</summary>
    public async Task<string> ResolveAsync(string model, IProgress<DownloadProgress>? progress = null, string? tokenizer = null, CancellationToken cancellation = default)
    {
        if (string.IsNullOrWhiteSpace(model)) throw new ArgumentException("The model name is empty; give a GGUF file's path or hf:OWNER/REPO/FILE.");
        if (File.Exists(model)) return Path.GetFullPath(model);
        if (HubReference.IsHubReference(model))
        {
            var reference = HubReference.Parse(model);
            if (_pull is not null) return await _pull(Settings, reference, tokenizer, progress, cancellation).ConfigureAwait(false);
            return new ModelCache(CacheDirectory).FindPulled(reference)
                ?? throw new ModelNotFoundException(model, $"{reference} is not in the model cache {CacheDirectory}, and this program does not download models: run si pull {reference} first, or give the file's path.");
        }
        if (Directory.Exists(model)) throw new ModelNotFoundException(model, $"{Path.GetFullPath(model)} is a folder; give the model file in it.");
        if (model.IndexOfAny(['/', '\\']) >= 0 || Path.IsPathRooted(model))
            throw new ModelNotFoundException(model, $"The model file {Path.GetFullPath(model)} does not exist.");
        return FindByName(model);
    }

    /// <summary>Synchronous <see cref="ResolveAsync"/>, for command-line tools and tests.</summary>
    public string Resolve(string model, IProgress<DownloadProgress>? progress = null, string? tokenizer = null, CancellationToken cancellation = default) =>
        ResolveAsync(model, progress, tokenizer, cancellation).GetAwaiter().GetResult();

    /// <summary>Steps 3-5: a bare file name in the model folders, then in the cache.</summary>
    public string FindByName(string fileName)
    {
        var tried = new List<string> { $"{Path.GetFullPath(fileName)} (the current folder)" };
        foreach (var folder in Folders)
        {
            var path = Path.Combine(folder.Path, fileName);
            if (File.Exists(path)) return path;
            tried.Add(Directory.Exists(folder.Path) ? $"{folder.Path} ({folder.Origin})" : $"{folder.Path} ({folder.Origin}; the folder does not exist)");
        }
        var cache = new ModelCache(CacheDirectory);
        var cached = cache.FindByName(fileName);
        if (cached.Count == 1) return cached[0];
        if (cached.Count > 1)
            throw new ModelNotFoundException(fileName,
                $"The cache has {cached.Count} models named {fileName} ({string.Join(", ", cached)}); give the one you mean by its path or as hf:OWNER/REPO/FILE.");
        tried.Add($"{cache.Directory} (the download cache)");
        if (!Folders.Any(f => f.Origin == ModelsVariable)) tried.Add($"{ModelsVariable} (not set)");
        throw new ModelNotFoundException(fileName,
            $"No model file named {fileName} was found; looked in {string.Join(", ", tried)}. Give the file's path, set {ModelsVariable} to the folder holding it, " +
            "or name a Hugging Face file as hf:OWNER/REPO/FILE (for example hf:karpathy/tinyllamas/stories15M.bin), which is downloaded into the cache.");
    }
}

/// <summary>A folder searched for models by bare name, and why (<c>SPECIALIZEDINFER_MODELS</c>, <c>../shared/models</c>).</summary>
public sealed record ModelFolder(string Path, string Origin);
