namespace SpecializedInfer.Engine;

/// <summary>
/// The machine's physical cores, the default thread count (a second hyperthread of a core adds little to code bound
/// by memory bandwidth or vector units). On Linux, the distinct (package, core) pairs of the CPUs this process may
/// run on, from sysfs; elsewhere, or when sysfs says nothing, the logical processor count.
/// </summary>
public static class PhysicalCores
{
    private static readonly Lazy<int> Cores = new(Detect);

    public static int Count => Cores.Value;

    private static int Detect()
    {
        var logical = Environment.ProcessorCount;
        if (!OperatingSystem.IsLinux()) return logical;
        try
        {
            var cores = new HashSet<(string Package, string Core)>();
            foreach (var cpu in Directory.EnumerateDirectories("/sys/devices/system/cpu", "cpu*"))
            {
                var topology = Path.Combine(cpu, "topology");
                var core = Path.Combine(topology, "core_id");
                var package = Path.Combine(topology, "physical_package_id");
                if (!char.IsAsciiDigit(Path.GetFileName(cpu)[^1]) || !File.Exists(core) || !File.Exists(package)) continue;
                if (File.Exists(Path.Combine(cpu, "online")) && File.ReadAllText(Path.Combine(cpu, "online")).Trim() == "0") continue;
                cores.Add((File.ReadAllText(package).Trim(), File.ReadAllText(core).Trim()));
            }
            return cores.Count > 0 ? Math.Min(cores.Count, logical) : logical;
        }
        catch (IOException)
        {
            return logical;
        }
        catch (UnauthorizedAccessException)
        {
            return logical;
        }
    }
}
