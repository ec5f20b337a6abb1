using SpecializedInfer.Conversion;

namespace SpecializedInfer.Hub;

/// <summary>
/// Gets a hub file into the cache as a loadable GGUF: a GGUF file is downloaded as it is; a llama2.c checkpoint
/// (karpathy/tinyllamas) is downloaded with its tokenizer and converted by <see cref="Llama2cConverter"/>, the GGUF
/// kept under <c>converted/</c>. A file already in the cache is not downloaded again (it was checked when it arrived),
/// so a pulled model keeps working offline.
/// </summary>
public sealed class ModelPuller(HubSettings settings, HubDownloader downloader)
{
    /// <summary>LLaMA 2's vocabulary, which llama2.c's own tokenizer.bin holds.</summary>
    public const int Llama2VocabularySize = 32000;

    private static readonly byte[] GgufMagic = "GGUF"u8.ToArray();

    public ModelCache Cache { get; } = new(settings.CacheDirectory);

    /// <summary>
    /// The model of <paramref name="reference"/>, downloaded (and converted) if the cache does not have it.
    /// <paramref name="tokenizer"/> (a path, <c>hf:</c> reference or URL) is the tokenizer of a llama2.c checkpoint;
    /// without it one is looked for beside the checkpoint (<c>tokVOCAB.bin</c>, <c>tokenizer.bin</c>), then, for a
    /// 32,000-token vocabulary, <see cref="HubSettings.Llama2Tokenizer"/>. Giving one converts the checkpoint again.
    /// </summary>
    public async Task<PulledModel> PullAsync(HubReference reference, string? tokenizer = null, IProgress<DownloadProgress>? progress = null, CancellationToken cancellation = default)
    {
        var converted = Cache.ConvertedPathOf(reference);
        var downloaded = Cache.PathOf(reference);
        if (tokenizer is null && Cache.FindPulled(reference) is { } cached) return new PulledModel(cached, false, false);

        var fetched = false;
        if (!File.Exists(downloaded))
        {
            await downloader.DownloadAsync(RemoteFile.Of(reference, settings), downloaded, progress, cancellation).ConfigureAwait(false);
            fetched = true;
        }
        if (StartsWithGgufMagic(downloaded)) return new PulledModel(downloaded, fetched, false);
        if (!downloaded.EndsWith(".bin", StringComparison.OrdinalIgnoreCase))
            throw new ModelFormatException(downloaded, 0, $"a GGUF model (a file starting with 'GGUF') or a llama2.c checkpoint (a .bin file): {reference} is neither");

        var config = Llama2cConverter.ReadConfig(downloaded); // a .bin that is not a checkpoint fails here, naming the offset
        var tokenizerPath = await FindTokenizerAsync(reference, config.VocabSize, tokenizer, progress, cancellation).ConfigureAwait(false);
        Directory.CreateDirectory(Path.GetDirectoryName(converted)!);
        Llama2cConverter.Convert(downloaded, tokenizerPath, converted); // written aside and renamed into place
        return new PulledModel(converted, fetched, true, tokenizerPath);
    }

    /// <summary>Any file the tokenizer can be: a local path, an <c>hf:</c> reference, or an http(s) URL, downloaded into the cache.</summary>
    public async Task<string> FetchAsync(string source, IProgress<DownloadProgress>? progress, CancellationToken cancellation)
    {
        if (HubReference.IsHubReference(source))
        {
            var reference = HubReference.Parse(source);
            var path = Cache.PathOf(reference);
            if (!File.Exists(path)) await downloader.DownloadAsync(RemoteFile.Of(reference, settings), path, progress, cancellation).ConfigureAwait(false);
            return path;
        }
        if (Uri.TryCreate(source, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp))
        {
            var path = Cache.PathOf(url);
            if (!File.Exists(path)) await downloader.DownloadAsync(RemoteFile.Of(url), path, progress, cancellation).ConfigureAwait(false);
            return path;
        }
        if (!File.Exists(source)) throw new FileNotFoundException($"The tokenizer {Path.GetFullPath(source)} does not exist.", source);
        return Path.GetFullPath(source);
    }

    private async Task<string> FindTokenizerAsync(HubReference checkpoint, int vocabSize, string? tokenizer, IProgress<DownloadProgress>? progress, CancellationToken cancellation)
    {
        if (tokenizer is not null) return await FetchAsync(tokenizer, progress, cancellation).ConfigureAwait(false);
        var candidates = new List<string> { checkpoint.Sibling($"tok{vocabSize}.bin").ToString(), checkpoint.Sibling("tokenizer.bin").ToString() };
        if (vocabSize == Llama2VocabularySize) candidates.Add(settings.Llama2Tokenizer.AbsoluteUri);
        foreach (var candidate in candidates)
        {
            try
            {
                return await FetchAsync(candidate, progress, cancellation).ConfigureAwait(false);
            }
            catch (ModelDownloadException e) when (e.Failure is DownloadFailure.NotFound)
            {
                // Not there: the next place.
            }
        }
        throw new ModelNotFoundException(checkpoint.ToString(),
            $"{checkpoint} is a llama2.c checkpoint with a {vocabSize}-token vocabulary, and no tokenizer for it was found (tried {string.Join(", ", candidates)}). " +
            "Give its llama2.c tokenizer file with --tokenizer (a path, an hf: reference or a URL).");
    }

    private static bool StartsWithGgufMagic(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var handle = File.OpenHandle(path);
        return RandomAccess.Read(handle, head, 0) == 4 && head.SequenceEqual(GgufMagic);
    }
}
