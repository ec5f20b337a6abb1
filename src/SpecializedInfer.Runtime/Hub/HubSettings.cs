namespace SpecializedInfer.Hub;

/// <summary>
/// Where models are downloaded from and kept: the hub endpoint (<c>HF_ENDPOINT</c>, default https://huggingface.co),
/// the access token sent to it (<c>HF_TOKEN</c>), the cache folder (<see cref="ModelCache.DefaultDirectory"/>), and
/// how long a transfer may stall before it is given up.
/// </summary>
public sealed record HubSettings(Uri Endpoint, string? Token, string CacheDirectory)
{
    public const string EndpointVariable = "HF_ENDPOINT";
    public const string TokenVariable = "HF_TOKEN";
    public static readonly Uri DefaultEndpoint = new("https://huggingface.co");

    /// <summary>A transfer that receives nothing for this long fails (a stalled connection would otherwise hang forever).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The llama2.c tokenizer of LLaMA 2's 32,000-token vocabulary, which karpathy/tinyllamas' stories15M/42M/110M use
    /// but do not contain. Its server publishes no checksum: the converter checks the file's structure and that it has
    /// exactly the checkpoint's vocabulary size.
    /// </summary>
    public Uri Llama2Tokenizer { get; init; } = new("https://raw.githubusercontent.com/karpathy/llama2.c/master/tokenizer.bin");

    /// <summary>Settings from the environment; <paramref name="cacheDirectory"/> (an option) overrides the cache folder's variable.</summary>
    public static HubSettings FromEnvironment(string? cacheDirectory = null)
    {
        var endpointText = Environment.GetEnvironmentVariable(EndpointVariable);
        var endpoint = DefaultEndpoint;
        if (!string.IsNullOrWhiteSpace(endpointText))
        {
            if (!Uri.TryCreate(endpointText.Trim(), UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttps && parsed.Scheme != Uri.UriSchemeHttp))
                throw new ArgumentException($"{EndpointVariable}={endpointText} is not an http or https address; unset it to use {DefaultEndpoint.AbsoluteUri.TrimEnd('/')}.");
            endpoint = parsed;
        }
        var token = Environment.GetEnvironmentVariable(TokenVariable);
        return new HubSettings(endpoint, string.IsNullOrWhiteSpace(token) ? null : token.Trim(), cacheDirectory ?? ModelCache.DefaultDirectory);
    }
}
