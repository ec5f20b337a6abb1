namespace SpecializedInfer.Hub;

/// <summary>
/// A file in a Hugging Face model repository, written <c>hf:OWNER/REPO/FILE</c> (FILE may have folders:
/// <c>hf:karpathy/tinyllamas/stories260K/tok512.bin</c>). Always the <c>main</c> revision.
/// </summary>
public sealed record HubReference(string Owner, string Repository, string FilePath)
{
    public const string Prefix = "hf:";

    /// <summary>The revision files are taken from.</summary>
    public const string Revision = "main";

    /// <summary>True when <paramref name="text"/> is meant as a hub reference (starts with <c>hf:</c>).</summary>
    public static bool IsHubReference(string text) => text.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses <c>hf:OWNER/REPO/FILE</c>; a malformed reference is a <see cref="HubReferenceException"/> saying what one looks like.</summary>
    public static HubReference Parse(string text)
    {
        if (!IsHubReference(text)) throw Malformed(text, "it does not start with hf:");
        var parts = text[Prefix.Length..].Split('/');
        if (parts.Length < 3) throw Malformed(text, "it needs an owner, a repository and a file");
        foreach (var part in parts)
        {
            // Each segment becomes a folder name in the cache and a URL path segment: nothing that escapes either.
            if (part.Length == 0 || part is "." or ".." || part.IndexOfAny(['\\', ':', '?', '#', '%', '*', '"', '<', '>', '|']) >= 0 || part.Any(char.IsControl))
                throw Malformed(text, $"'{part}' is not a valid name");
        }
        return new HubReference(parts[0], parts[1], string.Join('/', parts.Skip(2)));
    }

    /// <summary>The file's name without its folders.</summary>
    public string FileName => FilePath[(FilePath.LastIndexOf('/') + 1)..];

    /// <summary>Where the hub serves the file: <c>{endpoint}/{owner}/{repo}/resolve/main/{file}</c>.</summary>
    public Uri ResolveUrl(Uri endpoint) =>
        new($"{endpoint.AbsoluteUri.TrimEnd('/')}/{Uri.EscapeDataString(Owner)}/{Uri.EscapeDataString(Repository)}/resolve/{Revision}/{string.Join('/', FilePath.Split('/').Select(Uri.EscapeDataString))}");

    /// <summary>A file beside this one in the same repository folder.</summary>
    public HubReference Sibling(string fileName)
    {
        var slash = FilePath.LastIndexOf('/');
        return this with { FilePath = slash < 0 ? fileName : FilePath[..(slash + 1)] + fileName };
    }

    public override string ToString() => $"{Prefix}{Owner}/{Repository}/{FilePath}";

    private static HubReferenceException Malformed(string text, string why) =>
        new($"'{text}' is not a Hugging Face file reference ({why}); write hf:OWNER/REPO/FILE, for example hf:karpathy/tinyllamas/stories15M.bin.");
}

/// <summary>A malformed <c>hf:</c> reference; the message says what one looks like.</summary>
public sealed class HubReferenceException(string message) : ArgumentException(message);
