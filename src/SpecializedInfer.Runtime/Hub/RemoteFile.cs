namespace SpecializedInfer.Hub;

/// <summary>
/// Something to download: its address, the name it is shown by, and whether it is a hub file (whose HEAD answer
/// carries the LFS SHA-256, and to whose host the token may be sent).
/// </summary>
public sealed record RemoteFile(Uri Url, string Name, bool FromHub)
{
    public static RemoteFile Of(HubReference file, HubSettings settings) => new(file.ResolveUrl(settings.Endpoint), file.ToString(), FromHub: true);

    public static RemoteFile Of(Uri url) => new(url, url.AbsoluteUri, FromHub: false);
}
