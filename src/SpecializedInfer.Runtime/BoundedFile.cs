namespace SpecializedInfer;

/// <summary>
/// Whole-file reads with a size bound, for the small files read into memory (plans, manifests, probes, llama2.c
/// tokenizers). A path that is not a regular file is refused rather than read to exhaustion: a device such as
/// <c>/dev/zero</c> declares 0 bytes and never ends, so at most one byte more than the file declares is read.
/// </summary>
public static class BoundedFile
{
    /// <summary>
    /// The file's bytes. <paramref name="refuse"/> builds the exception thrown for a file longer than
    /// <paramref name="maxBytes"/> (given its length) or for one that is not a regular file (given null).
    /// </summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, Func<long?, Exception> refuse)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        if (!stream.CanSeek) throw refuse(null);
        var declared = stream.Length;
        if (declared > maxBytes) throw refuse(declared);

        var bytes = new byte[declared + 1];
        var read = 0;
        for (int n; read < bytes.Length && (n = stream.Read(bytes, read, bytes.Length - read)) > 0;) read += n;
        if (read != declared) throw refuse(null);
        Array.Resize(ref bytes, read);
        return bytes;
    }
}
