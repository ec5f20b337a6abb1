using System.Globalization;

namespace SpecializedInfer.Planning;

/// <summary>
/// Bounds on what a plan, manifest or probe file may ask of a reader, the same for the analyzer, the generator and the
/// runtime so that all three refuse the same inputs (SI0037), each with a bounded amount of memory and time.
/// </summary>
public static class InputLimits
{
    /// <summary>
    /// A schedule runs at most this many steps per model layer. Every step owns a KV cache as long as the context, so a
    /// plan's length is memory; real plans repeat a layer a few times at most.
    /// </summary>
    public const int MaxStepsPerLayer = 16;

    /// <summary>
    /// The largest plan, manifest or probe file read, in UTF-8 bytes. A probe for a model 16,384 wide written with
    /// round-trip floats takes about 300 KB; anything near this size is not a hand-written plan.
    /// </summary>
    public const int MaxFileBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Problems reported per file. Past it, one more problem says how many were left out, so a generated file with a
    /// million mistakes costs a hundred messages, not a million.
    /// </summary>
    public const int MaxProblemsPerFile = 100;

    /// <summary>The most steps a schedule over <paramref name="layers"/> layers may have.</summary>
    public static long MaxSteps(int layers) => (long)MaxStepsPerLayer * layers;

    /// <summary>The problem with a file of <paramref name="bytes"/> bytes, or null when it is within the limit.</summary>
    public static string? CheckFileLength(long bytes) => bytes <= MaxFileBytes ? null : TooLarge(bytes, "");

    /// <summary>
    /// The problem with a file of <paramref name="characters"/> characters (each at least one UTF-8 byte), or null
    /// when that many characters may still fit: a huge text is refused without being copied or measured.
    /// </summary>
    public static string? CheckCharacterCount(long characters) => characters <= MaxFileBytes ? null : TooLarge(characters, "at least ");

    /// <summary>The problem with a file's text, or null when it is within the limit.</summary>
    public static string? CheckText(string text) =>
        CheckCharacterCount(text.Length)
        ?? (text.Length * 3L <= MaxFileBytes ? null // three UTF-8 bytes per UTF-16 character at most
            : CheckFileLength(System.Text.Encoding.UTF8.GetByteCount(text)));

    private static string TooLarge(long bytes, string bound) =>
        string.Format(CultureInfo.InvariantCulture,
            "The file is {0}{1:N0} bytes; plan, manifest and probe files may be at most {2:N0} bytes (4 MiB)", bound, bytes, MaxFileBytes);
}
