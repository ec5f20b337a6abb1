using System.Text;
using SpecializedInfer.Planning;

namespace SpecializedInfer;

/// <summary>
/// Reads plan, manifest and probe files within <see cref="InputLimits.MaxFileBytes"/>, the limit the analyzer and the
/// generator apply to the same files; a device, pipe or oversized file is refused with a <see cref="PlanException"/>
/// naming the file (SI0037).
/// </summary>
public static class JsonInputFile
{
    public static string ReadText(string path)
    {
        path = Path.GetFullPath(path);
        var bytes = BoundedFile.ReadAllBytes(path, InputLimits.MaxFileBytes, length => new PlanException(
        [
            new PlanProblem(ProblemIds.LimitExceeded, ProblemSeverity.Error,
                length is { } n ? InputLimits.CheckFileLength(n)! : NotRegular, path, TextRange.Empty),
        ]));
        using var reader = new StreamReader(new MemoryStream(bytes), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    private const string NotRegular =
        "This is not a regular file (a device, a pipe, or a file that changed while it was read); plan, manifest and probe files must be regular files";
}
