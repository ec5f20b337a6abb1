namespace SpecializedInfer.Hub;

/// <summary>
/// The folder downloaded models are kept in. Hub files go to <c>hf/OWNER/REPO/FILE</c>, other downloads (a tokenizer
/// from a plain URL) to <c>url/HOST/PATH</c>, and GGUF files converted from llama2.c checkpoints to
/// <c>converted/OWNER/REPO/NAME.gguf</c>. Its place: <c>SPECIALIZEDINFER_CACHE</c>, else
/// <c>$XDG_CACHE_HOME/specializedinfer</c> or <c>~/.cache/specializedinfer</c> (Linux, macOS), or
/// <c>%LOCALAPPDATA%\SpecializedInfer\cache</c> (Windows).
/// </summary>
public sealed class ModelCache(string directory)
{
    public const string EnvironmentVariable = "SPECIALIZEDINFER_CACHE";

    /// <summary>The suffix a file has beside its final name while it is downloaded and checked; a later pull resumes it.</summary>
    public const string PartialSuffix = ".partial";

    public string Directory { get; } = Path.GetFullPath(directory);

    /// <summary>The cache folder from the environment (see the class summary).</summary>
    public static string DefaultDirectory
    {
        get
        {
            var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(fromEnv)) return Path.GetFullPath(fromEnv);
            if (OperatingSystem.IsWindows())
                return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "SpecializedInfer", "cache");
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            // The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
            var root = !string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "specializedinfer");
        }
    }

    /// <summary>Where a hub file is kept once downloaded.</summary>
    public string PathOf(HubReference file) => Combine("hf", file.Owner, file.Repository, file.FilePath);

    /// <summary>Where a file from a plain URL is kept once downloaded.</summary>
    public string PathOf(Uri url) => Combine(["url", url.IsDefaultPort ? url.Host : $"{url.Host}_{url.Port}", .. url.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString)]);

    /// <summary>Where the GGUF converted from a hub llama2.c checkpoint is kept: <c>stories15M.bin</c> becomes <c>stories15M.gguf</c>.</summary>
    public string ConvertedPathOf(HubReference checkpoint) =>
        Combine("converted", checkpoint.Owner, checkpoint.Repository, Path.ChangeExtension(checkpoint.FilePath, ".gguf"));

    /// <summary>
    /// The loadable GGUF a pull of <paramref name="reference"/> left in the cache (the converted model of a llama2.c
    /// checkpoint, or the downloaded GGUF), or null when it was not pulled.
    /// </summary>
    public string? FindPulled(HubReference reference)
    {
        var downloaded = PathOf(reference);
        if (!File.Exists(downloaded)) return null;
        var converted = ConvertedPathOf(reference);
        if (File.Exists(converted)) return converted;
        Span<byte> head = stackalloc byte[4];
        using var handle = File.OpenHandle(downloaded);
        return RandomAccess.Read(handle, head, 0) == 4 && head.SequenceEqual("GGUF"u8) ? downloaded : null;
    }

    /// <summary>
    /// Complete files named <paramref name="fileName"/> anywhere in the cache (converted models first), for a model
    /// named without a folder. Files still being downloaded are not complete and not listed.
    /// </summary>
    public IReadOnlyList<string> FindByName(string fileName)
    {
        var found = new List<string>();
        foreach (var area in new[] { "converted", "hf", "url" })
        {
            var root = Path.Combine(Directory, area);
            if (!System.IO.Directory.Exists(root)) continue;
            var options = new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 16, IgnoreInaccessible = true, MatchCasing = MatchCasing.CaseSensitive };
            found.AddRange(System.IO.Directory.EnumerateFiles(root, fileName, options).Order(StringComparer.Ordinal));
        }
        return found;
    }

    private string Combine(params string[] parts)
    {
        foreach (var part in parts)
        {
            // Names come from the command line and servers: none may climb out of the cache.
            if (part.Length == 0 || part is "." or ".." || part.IndexOfAny(['/', '\\']) >= 0 && part.Split('/', '\\').Any(p => p is "." or ".."))
                throw new ArgumentException($"'{part}' cannot be a file or folder name in the model cache.");
        }
        var path = Path.GetFullPath(Path.Combine([Directory, .. parts.SelectMany(p => p.Split('/'))]));
        if (!path.StartsWith(Directory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException($"'{string.Join('/', parts)}' would be stored outside the model cache {Directory}.");
        return path;
    }
}
