using System.Net.Http.Headers;

namespace SpecializedInfer.Hub;

/// <summary>
/// What the hub's HEAD answer says about a file, read as huggingface_hub reads it (<c>get_hf_file_metadata</c>): the
/// ETag from <c>X-Linked-Etag</c>, else <c>ETag</c>, without <c>W/</c> and quotes; the size from <c>X-Linked-Size</c>,
/// else <c>Content-Length</c>; and where the bytes are (the CDN address the hub redirects LFS files to).
/// For an LFS file the ETag is the SHA-256 of its content (64 hex digits); for a small file kept in git it is the git
/// blob id (40), which says nothing checkable about the bytes alone, so only the size is checked then.
/// </summary>
public sealed record HubFileMetadata(Uri Location, string? ETag, long? Size)
{
    public const string LinkedETagHeader = "X-Linked-Etag";
    public const string LinkedSizeHeader = "X-Linked-Size";

    /// <summary>The expected SHA-256 (lower-case hex) when the ETag is one, else null.</summary>
    public string? Sha256 => ETag is { Length: 64 } e && e.All(char.IsAsciiHexDigit) ? e.ToLowerInvariant() : null;

    public static HubFileMetadata From(HttpResponseMessage response, Uri location)
    {
        var etag = Header(response, LinkedETagHeader) ?? response.Headers.ETag?.ToString();
        var sizeText = Header(response, LinkedSizeHeader);
        long? size = long.TryParse(sizeText, out var linked) && linked >= 0 ? linked : response.Content.Headers.ContentLength;
        return new HubFileMetadata(location, Normalize(etag), size);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static string? Normalize(string? etag)
    {
        if (string.IsNullOrWhiteSpace(etag)) return null;
        etag = etag.Trim();
        if (etag.StartsWith("W/", StringComparison.Ordinal)) etag = etag[2..];
        return etag.Trim('"');
    }
}
