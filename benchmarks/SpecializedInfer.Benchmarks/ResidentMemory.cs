namespace SpecializedInfer.Benchmarks;

/// <summary>
/// The process's resident memory as Linux counts it (<c>/proc/self/status</c>): all of it (VmRSS), the part of it
/// that is the process's own memory (RssAnon: heaps, repacked or expanded weights) and the part that is pages of
/// mapped files (RssFile: the model file's mapping, as far as it has been read), beside the model file's size.
/// </summary>
public static class ResidentMemory
{
    public static string Describe(string modelPath)
    {
        var status = File.ReadAllLines("/proc/self/status");
        string Kb(string key) => status.FirstOrDefault(l => l.StartsWith(key + ":", StringComparison.Ordinal)) is { } line
            ? $"{long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0]) / 1024.0:F0} MB"
            : "?";
        return $"VmRSS {Kb("VmRSS")} (anonymous {Kb("RssAnon")}, file pages {Kb("RssFile")}); file {new FileInfo(modelPath).Length / 1048576.0:F0} MB";
    }
}
