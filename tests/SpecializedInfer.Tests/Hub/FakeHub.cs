using System.Net;
using System.Security.Cryptography;

namespace SpecializedInfer.Tests.Hub;

/// <summary>A file the fake hub serves, and how it misbehaves.</summary>
internal sealed class HostedFile(byte[] content)
{
    public byte[] Content { get; set; } = content;

    /// <summary>Stored with git LFS: the hub redirects it to the CDN and publishes its SHA-256 as X-Linked-Etag.</summary>
    public bool Lfs { get; init; } = true;

    /// <summary>The SHA-256 the hub publishes (default: the content's), to simulate a corrupted transfer.</summary>
    public string? PublishedSha256 { get; set; }

    /// <summary>Drop the connection after this many bytes, for the first <see cref="CutTimes"/> transfers.</summary>
    public long? CutAfter { get; set; }
    public int CutTimes { get; set; } = 1;

    /// <summary>Send the bytes one small chunk per this delay.</summary>
    public TimeSpan? Delay { get; set; }

    /// <summary>The CDN answers a Range request with the whole file (200).</summary>
    public bool IgnoreRange { get; set; }

    /// <summary>Answer with this status instead (401, 404, 500, ...).</summary>
    public int? Status { get; set; }

    public string Sha256 => PublishedSha256 ?? Convert.ToHexStringLower(SHA256.HashData(Content));
}

/// <summary>
/// A Hugging Face hub on the loopback interface, shaped like the real one: <c>/OWNER/REPO/resolve/main/FILE</c> on the
/// hub host; LFS files answered (HEAD and GET) with a 302 to a second host, the CDN, carrying <c>X-Linked-Etag</c>
/// (the SHA-256) and <c>X-Linked-Size</c>; small git files served directly with their git blob id as ETag.
/// With <see cref="RequiredToken"/>, requests without that bearer token get 401.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    private const string ResolvePrefix = "/resolve/main/";

    public FakeHub()
    {
        Cdn = new LoopbackServer(ServeCdn);
        Server = new LoopbackServer(ServeHub);
    }

    public LoopbackServer Server { get; }
    public LoopbackServer Cdn { get; }
    public Dictionary<string, HostedFile> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>Paths (OWNER/REPO) answered with a relative 307 to another repository path, as for a renamed repository.</summary>
    public Dictionary<string, string> Renamed { get; } = new(StringComparer.Ordinal);

    public string? RequiredToken { get; set; }

    public Uri Endpoint => Server.Url;

    public HostedFile Add(string ownerRepoFile, byte[] content, bool lfs = true)
    {
        var file = new HostedFile(content) { Lfs = lfs };
        Files[ownerRepoFile] = file;
        return file;
    }

    private Task ServeHub(HttpListenerContext context, CancellationToken stopping)
    {
        var path = Uri.UnescapeDataString(context.Request.Url!.AbsolutePath);
        var response = context.Response;
        var resolve = path.IndexOf(ResolvePrefix, StringComparison.Ordinal);
        if (RequiredToken is not null && context.Request.Headers["Authorization"] != $"Bearer {RequiredToken}")
        {
            response.StatusCode = 401;
            return Task.CompletedTask;
        }
        if (resolve < 0) { response.StatusCode = 404; return Task.CompletedTask; }
        var repo = path[1..resolve];
        if (Renamed.TryGetValue(repo, out var newName))
        {
            response.StatusCode = 307;
            response.AddHeader("Location", "/" + newName + path[resolve..]);
            return Task.CompletedTask;
        }
        var key = repo + "/" + path[(resolve + ResolvePrefix.Length)..];
        if (!Files.TryGetValue(key, out var file)) { response.StatusCode = 404; return Task.CompletedTask; }
        if (file.Status is { } status) { response.StatusCode = status; return Task.CompletedTask; }
        if (!file.Lfs)
        {
            response.AddHeader("ETag", $"\"{Convert.ToHexStringLower(SHA1.HashData(file.Content))}\"");
            return LoopbackServer.ServeBytes(context, file.Content, stopping);
        }
        response.StatusCode = 302;
        response.AddHeader("Location", new Uri(Cdn.Url, "/blobs/" + Uri.EscapeDataString(key)).AbsoluteUri);
        response.AddHeader("X-Linked-Etag", $"\"{file.Sha256}\"");
        response.AddHeader("X-Linked-Size", file.Content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Task.CompletedTask;
    }

    private Task ServeCdn(HttpListenerContext context, CancellationToken stopping)
    {
        var key = Uri.UnescapeDataString(context.Request.Url!.AbsolutePath)["/blobs/".Length..];
        var file = Files[key];
        long? cut = null;
        if (context.Request.HttpMethod == "GET" && file.CutAfter is { } after)
        {
            lock (file)
            {
                if (file.CutTimes > 0) { file.CutTimes--; cut = after; }
            }
        }
        return LoopbackServer.ServeBytes(context, file.Content, stopping, cut, file.Delay, file.IgnoreRange);
    }

    public void Dispose()
    {
        Server.Dispose();
        Cdn.Dispose();
    }
}
