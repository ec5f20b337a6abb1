using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace SpecializedInfer.Tests.Hub;

/// <summary>One request as the server saw it.</summary>
internal sealed record SeenRequest(string Method, string Path, string? Authorization, string? Range);

/// <summary>
/// A real HTTP server on the loopback interface (<see cref="HttpListener"/>), answering each request with
/// <paramref name="handler"/> and recording every request it saw. Never touches the network beyond 127.0.0.1.
/// </summary>
internal sealed class LoopbackServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<HttpListenerContext, CancellationToken, Task> _handler;
    private readonly CancellationTokenSource _stopping = new();

    public LoopbackServer(Func<HttpListenerContext, CancellationToken, Task> handler)
    {
        _handler = handler;
        for (var attempt = 0; ; attempt++)
        {
            // HttpListener takes no port 0: take a free port from the OS and retry if another test grabbed it first.
            var port = FreePort();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                _listener.Start();
                Url = new Uri($"http://127.0.0.1:{port}/");
                break;
            }
            catch (HttpListenerException) when (attempt < 10) { }
        }
        _ = Task.Run(AcceptAsync);
    }

    public Uri Url { get; } = null!;

    public ConcurrentQueue<SeenRequest> Requests { get; } = new();

    private async Task AcceptAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; } // stopped
            _ = Task.Run(async () =>
            {
                var request = context.Request;
                Requests.Enqueue(new SeenRequest(request.HttpMethod, request.Url!.AbsolutePath, request.Headers["Authorization"], request.Headers["Range"]));
                try
                {
                    await _handler(context, _stopping.Token);
                    context.Response.Close();
                }
                catch (Exception)
                {
                    try { context.Response.Abort(); } catch (Exception) { }
                }
            });
        }
    }

    private int _disposed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        try { _listener.Stop(); _listener.Close(); } catch (Exception) { }
        _stopping.Dispose();
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    /// <summary>
    /// Serves <paramref name="content"/> with Range support (<c>bytes=N-</c> gets 206 and a Content-Range), or only its
    /// first <paramref name="cutAfter"/> bytes before the connection is dropped, or its bytes slowly (one small chunk per
    /// <paramref name="delay"/>).
    /// </summary>
    public static async Task ServeBytes(HttpListenerContext context, byte[] content, CancellationToken stopping,
        long? cutAfter = null, TimeSpan? delay = null, bool ignoreRange = false)
    {
        var response = context.Response;
        long start = 0;
        var range = context.Request.Headers["Range"];
        if (!ignoreRange && range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            start = long.Parse(range["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
            if (start >= content.Length)
            {
                response.StatusCode = 416;
                response.AddHeader("Content-Range", $"bytes */{content.Length}");
                return;
            }
            response.StatusCode = 206;
            response.AddHeader("Content-Range", $"bytes {start}-{content.Length - 1}/{content.Length}");
        }
        response.AddHeader("Accept-Ranges", "bytes");
        response.ContentLength64 = content.Length - start;
        if (context.Request.HttpMethod == "HEAD") return;
        var output = response.OutputStream;
        var end = cutAfter is { } cut ? Math.Min(content.Length, start + cut) : content.Length;
        var chunk = delay is null ? 64 * 1024 : 1024;
        for (var at = start; at < end; at += chunk)
        {
            await output.WriteAsync(content.AsMemory((int)at, (int)Math.Min(chunk, end - at)), stopping);
            await output.FlushAsync(stopping);
            if (delay is { } d) await Task.Delay(d, stopping);
        }
        if (end < content.Length) throw new IOException("connection dropped on purpose"); // the caller aborts the response
    }
}
