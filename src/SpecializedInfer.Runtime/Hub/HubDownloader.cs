using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace SpecializedInfer.Hub;

/// <summary>
/// Downloads one file into place safely. The bytes go to <c>DESTINATION.partial</c> (opened exclusively, so two
/// processes never write it at once); an interrupted download leaves it there and the next one resumes it with an
/// HTTP Range request. A finished file is checked against the size and the SHA-256 the hub published (LFS files),
/// then renamed over the destination in one step, so the destination is either absent or complete and checked. A file
/// that fails the check is deleted.
/// <para>
/// Redirects are followed by hand: the token (<c>HF_TOKEN</c>) goes only to the hub endpoint's own scheme, host and
/// port, never to the CDN host the hub redirects LFS files to. Failures are <see cref="ModelDownloadException"/>s
/// saying what was tried and what to do.
/// </para>
/// </summary>
public sealed class HubDownloader : IDisposable
{
    private const int MaxRedirects = 10;
    private const int BufferBytes = 1 << 20;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private readonly HubSettings _settings;
    private readonly HttpClient _http;

    public HubDownloader(HubSettings settings, HttpMessageHandler? handler = null)
    {
        _settings = settings;
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // followed by hand, to keep the token on the hub's host
            AutomaticDecompression = DecompressionMethods.None, // the checksum is over the file's own bytes
            ConnectTimeout = TimeSpan.FromSeconds(30),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan, // bounded per read by the idle timeout instead: big files take long
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("SpecializedInfer", "0.1"));
    }

    public void Dispose() => _http.Dispose();

    /// <summary>The hub's metadata of a file (HEAD, following only same-host redirects, as huggingface_hub does).</summary>
    public async Task<HubFileMetadata> GetMetadataAsync(RemoteFile file, CancellationToken cancellation = default)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        idle.CancelAfter(_settings.IdleTimeout);
        var (response, url) = await SendAsync(HttpMethod.Head, file, file.Url, from: null, crossHost: false, idle.Token, cancellation, partial: null).ConfigureAwait(false);
        using (response)
        {
            if (IsRedirect(response.StatusCode)) return HubFileMetadata.From(response, Target(response, url, file));
            if (!response.IsSuccessStatusCode) throw Failed(response, file, url);
            return HubFileMetadata.From(response, url);
        }
    }

    /// <summary>
    /// Downloads <paramref name="file"/> to <paramref name="destination"/> (resuming <c>destination.partial</c> if
    /// present) and checks it. Cancelling keeps the partial file for the next attempt.
    /// </summary>
    public async Task DownloadAsync(RemoteFile file, string destination, IProgress<DownloadProgress>? progress = null, CancellationToken cancellation = default)
    {
        destination = Path.GetFullPath(destination);
        HubFileMetadata? metadata = file.FromHub ? await GetMetadataAsync(file, cancellation).ConfigureAwait(false) : null;
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        var partial = destination + ModelCache.PartialSuffix;
        long? expectedSize = metadata?.Size;
        string? actualSha;
        long received;

        using (var stream = OpenPartial(partial, file))
        {
            // A resumed file that fails the check may hold bytes of an older version: it gets one fresh try.
            for (var attempt = 0; ; attempt++)
            {
                var resumedFrom = stream.Length;
                (received, actualSha, expectedSize) = await TransferAsync(file, metadata?.Location ?? file.Url, stream, partial, expectedSize, progress, cancellation).ConfigureAwait(false);
                if (Matches(received, actualSha, expectedSize, metadata?.Sha256) || resumedFrom == 0 || attempt > 0) break;
                stream.SetLength(0);
            }
        }

        if (!Matches(received, actualSha, expectedSize, metadata?.Sha256))
        {
            File.Delete(partial);
            var what = expectedSize is { } size && size != received
                ? string.Create(Inv, $"has {received:N0} bytes, but the server said {size:N0}")
                : $"has SHA-256 {actualSha}, but the hub's LFS metadata says {metadata!.Sha256}";
            throw new ModelDownloadException(DownloadFailure.ChecksumMismatch, file.Name, metadata?.Location ?? file.Url,
                $"The download of {file.Name} {what}; it was deleted. Run the command again; if this happens again, something between you and the server changes the file (a proxy), or the file changed on the hub while it was downloaded.");
        }
        File.Move(partial, destination, overwrite: true);
    }

    private static bool Matches(long received, string actualSha, long? expectedSize, string? expectedSha) =>
        (expectedSize is not { } size || size == received) && (expectedSha is null || expectedSha == actualSha);

    private static FileStream OpenPartial(string partial, RemoteFile file)
    {
        var existed = File.Exists(partial);
        try
        {
            return new FileStream(partial, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        }
        catch (IOException e) when (existed && e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new ModelDownloadException(DownloadFailure.InUse, file.Name, file.Url,
                $"{partial} is being written by another download of {file.Name}; wait for it to finish, or end it and run the command again.", inner: e);
        }
    }

    /// <summary>Appends the rest of the file to <paramref name="stream"/>; returns the size and SHA-256 of the whole.</summary>
    private async Task<(long Received, string Sha256, long? Size)> TransferAsync(RemoteFile file, Uri location, FileStream stream, string partial,
        long? size, IProgress<DownloadProgress>? progress, CancellationToken cancellation)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var start = stream.Length;
        if (size is { } known && start > known) start = 0;
        stream.SetLength(start);
        var buffer = new byte[BufferBytes];
        // The bytes already on disk count towards the checksum: read them once instead of keeping a hash state around.
        stream.Position = 0;
        for (long left = start; left > 0;)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellation).ConfigureAwait(false);
            if (read == 0) throw new EndOfStreamException($"{partial} became shorter while it was read.");
            hash.AppendData(buffer, 0, read);
            left -= read;
        }
        if (size is { } complete && start == complete) return (start, Convert.ToHexStringLower(hash.GetHashAndReset()), size);

        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        idle.CancelAfter(_settings.IdleTimeout);
        var (response, url) = await SendAsync(HttpMethod.Get, file, location, start > 0 ? start : null, crossHost: true, idle.Token, cancellation, partial).ConfigureAwait(false);
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && start > 0)
            {
                // The partial file is not a prefix the server recognizes (longer than the file now is): start over.
                stream.SetLength(0);
                return await TransferAsync(file, location, stream, partial, size, progress, cancellation).ConfigureAwait(false);
            }
            if (!response.IsSuccessStatusCode) throw Failed(response, file, url);
            if (response.StatusCode == HttpStatusCode.PartialContent)
            {
                if (response.Content.Headers.ContentRange is not { From: { } from } range || from != start)
                    throw new ModelDownloadException(DownloadFailure.BadResponse, file.Name, url,
                        string.Create(Inv, $"{url.Host} answered the request for {file.Name} from byte {start:N0} with another range ({response.Content.Headers.ContentRange}); delete {partial} and run the command again."));
                size ??= range.Length;
            }
            else
            {
                // 200: the server ignored the range and sends the whole file.
                if (start > 0) { start = 0; stream.SetLength(0); hash.GetHashAndReset(); }
                size ??= response.Content.Headers.ContentLength;
            }
            stream.Position = start;
            var received = start;
            var clock = Stopwatch.StartNew();
            progress?.Report(new DownloadProgress(file.Name, received, size));
            try
            {
                using var body = await response.Content.ReadAsStreamAsync(idle.Token).ConfigureAwait(false);
                while (true)
                {
                    idle.CancelAfter(_settings.IdleTimeout);
                    var read = await body.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
                    if (read == 0) break;
                    await stream.WriteAsync(buffer.AsMemory(0, read), cancellation).ConfigureAwait(false);
                    hash.AppendData(buffer, 0, read);
                    received += read;
                    if (clock.ElapsedMilliseconds >= 100) { progress?.Report(new DownloadProgress(file.Name, received, size)); clock.Restart(); }
                }
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                await stream.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                throw new ModelDownloadException(DownloadFailure.Stalled, file.Name, url,
                    string.Create(Inv, $"The download of {file.Name} stalled: {url.Host} sent nothing for {_settings.IdleTimeout.TotalSeconds:0.#} seconds. The {received:N0} bytes received are kept in {partial}; run the command again to resume."));
            }
            catch (Exception e) when (e is HttpRequestException or IOException && e is not ModelDownloadException && !cancellation.IsCancellationRequested)
            {
                await stream.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                throw new ModelDownloadException(DownloadFailure.Unreachable, file.Name, url,
                    string.Create(Inv, $"The connection to {url.Host} broke after {received:N0} of {(size is { } s ? s.ToString("N0", Inv) : "?")} bytes of {file.Name} ({e.Message}). The bytes received are kept in {partial}; run the command again to resume."), inner: e);
            }
            await stream.FlushAsync(cancellation).ConfigureAwait(false);
            progress?.Report(new DownloadProgress(file.Name, received, size));
            return (received, Convert.ToHexStringLower(hash.GetHashAndReset()), size);
        }
    }

    /// <summary>
    /// Sends a request, following redirects by hand (all of them with <paramref name="crossHost"/>, else only those to
    /// the same scheme, host and port) and attaching the token only where <see cref="Authorized"/> allows.
    /// Returns the last response and the address it came from.
    /// </summary>
    private async Task<(HttpResponseMessage Response, Uri Url)> SendAsync(HttpMethod method, RemoteFile file, Uri url, long? from, bool crossHost,
        CancellationToken token, CancellationToken cancellation, string? partial)
    {
        for (var redirects = 0; ; redirects++)
        {
            using var request = new HttpRequestMessage(method, url);
            if (Authorized(file, url)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _settings.Token);
            if (from is { } start) request.Headers.Range = new RangeHeaderValue(start, null);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                throw new ModelDownloadException(DownloadFailure.Stalled, file.Name, url,
                    string.Create(Inv, $"{url.Host} did not answer the request for {file.Name} within {_settings.IdleTimeout.TotalSeconds:0.#} seconds (tried {url}). Check the network connection, or try again later.{Kept(partial)}"));
            }
            catch (HttpRequestException e)
            {
                throw new ModelDownloadException(DownloadFailure.Unreachable, file.Name, url,
                    $"Could not download {file.Name}: {url.Host} could not be reached ({e.Message}); tried {url}. Check the network connection (behind a proxy, set HTTPS_PROXY), " +
                    $"set {HubSettings.EndpointVariable} to a reachable mirror, or download the file yourself and give its path instead.{Kept(partial)}", inner: e);
            }
            if (!IsRedirect(response.StatusCode)) return (response, url);
            var target = Target(response, url, file);
            if (!crossHost && !SameOrigin(target, url)) return (response, url);
            response.Dispose();
            if (redirects == MaxRedirects)
                throw new ModelDownloadException(DownloadFailure.BadResponse, file.Name, url,
                    $"The request for {file.Name} was redirected more than {MaxRedirects} times (last to {target}); the server or a proxy is misconfigured.");
            url = target;
        }
    }

    private static string Kept(string? partial) =>
        partial is not null && File.Exists(partial) && new FileInfo(partial).Length > 0 ? $" The bytes received so far are kept in {partial} and the next attempt resumes them." : "";

    /// <summary>The token goes to the hub endpoint's own origin only: a CDN, a mirror of a redirect, a plain URL never see it.</summary>
    private bool Authorized(RemoteFile file, Uri url) => _settings.Token is not null && file.FromHub && SameOrigin(url, _settings.Endpoint);

    private static bool SameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase) && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    private static bool IsRedirect(HttpStatusCode status) =>
        status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    private static Uri Target(HttpResponseMessage response, Uri url, RemoteFile file) =>
        response.Headers.Location is { } location
            ? location.IsAbsoluteUri ? location : new Uri(url, location)
            : throw new ModelDownloadException(DownloadFailure.BadResponse, file.Name, url,
                $"{url.Host} redirected the request for {file.Name} (HTTP {(int)response.StatusCode}) without saying where to; try again later.");

    private ModelDownloadException Failed(HttpResponseMessage response, RemoteFile file, Uri url)
    {
        var code = (int)response.StatusCode;
        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden when file.FromHub => new ModelDownloadException(DownloadFailure.AccessDenied, file.Name, url,
                _settings.Token is null
                    ? $"{url.Host} refused {file.Name} (HTTP {code}): the repository does not exist, or it is private or gated. Check the name; for a private or gated model, set {HubSettings.TokenVariable} to an access token (https://huggingface.co/settings/tokens) and accept the model's licence on its page."
                    : $"{url.Host} refused {file.Name} (HTTP {code}) with the token in {HubSettings.TokenVariable}: the repository does not exist, or the token has no access to it. Check the name and the token, and accept the model's licence on its page if it is gated.",
                response.StatusCode),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new ModelDownloadException(DownloadFailure.AccessDenied, file.Name, url,
                $"{url.Host} refused {file.Name} (HTTP {code}); download it yourself and give its path instead.", response.StatusCode),
            HttpStatusCode.NotFound => new ModelDownloadException(DownloadFailure.NotFound, file.Name, url,
                file.FromHub
                    ? $"{file.Name} was not found: {url} answered HTTP 404. Check the owner, the repository and the file's path inside it (hf:OWNER/REPO/FILE, for example hf:karpathy/tinyllamas/stories15M.bin)."
                    : $"{file.Name} was not found (HTTP 404).",
                response.StatusCode),
            _ => new ModelDownloadException(DownloadFailure.ServerError, file.Name, url,
                $"Downloading {file.Name} failed: {url.Host} answered HTTP {code} ({response.ReasonPhrase}) for {url}. The server may be busy or down; try again later.",
                response.StatusCode),
        };
    }
}
