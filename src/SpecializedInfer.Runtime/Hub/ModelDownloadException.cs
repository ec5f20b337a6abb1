using System.Net;

namespace SpecializedInfer.Hub;

/// <summary>Why a download failed, as far as the user can act on it.</summary>
public enum DownloadFailure
{
    /// <summary>No connection: the host is unknown or unreachable, or the connection broke.</summary>
    Unreachable,
    /// <summary>HTTP 401 or 403: private or gated repository, or a wrong token.</summary>
    AccessDenied,
    /// <summary>HTTP 404: no such owner, repository or file.</summary>
    NotFound,
    /// <summary>Any other HTTP error status (5xx, 429, ...).</summary>
    ServerError,
    /// <summary>The server sent nothing for longer than the idle timeout.</summary>
    Stalled,
    /// <summary>The file received is not the file the hub described (SHA-256 or size differ); it was discarded.</summary>
    ChecksumMismatch,
    /// <summary>The answer made no sense: too many redirects, a redirect without a target, a wrong byte range.</summary>
    BadResponse,
    /// <summary>Another process is downloading the same file into the cache right now.</summary>
    InUse,
}

/// <summary>
/// A download that failed, with a message in sentences: what was fetched from where, what went wrong, and what to do.
/// An <see cref="IOException"/>, so callers that report I/O errors report this one the same way.
/// </summary>
public sealed class ModelDownloadException(DownloadFailure failure, string source, Uri url, string message, HttpStatusCode? status = null, Exception? inner = null)
    : IOException(message, inner)
{
    public DownloadFailure Failure { get; } = failure;

    /// <summary>What was being downloaded, as the user named it (<c>hf:OWNER/REPO/FILE</c> or a URL).</summary>
    public string Requested { get; } = source;

    /// <summary>The address that failed (after redirects).</summary>
    public Uri Url { get; } = url;

    /// <summary>The HTTP status, when the server answered.</summary>
    public HttpStatusCode? Status { get; } = status;
}
