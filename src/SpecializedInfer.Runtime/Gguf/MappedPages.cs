using System.Runtime.InteropServices;

namespace SpecializedInfer.Gguf;

/// <summary>
/// Gives back the pages of a file mapping a process has read and will not read again (a matrix repacked into the
/// engine's own tiles): they leave the process's resident set at once instead of staying there beside the copy until
/// the kernel needs the memory. The mapping stays valid: a later read faults the pages in again from the file (the
/// page cache), so releasing is never wrong, only slower if someone does read again. Linux and macOS
/// (<c>madvise(MADV_DONTNEED)</c>, which on a file mapping drops the process's view of clean pages, not the data);
/// elsewhere a no-op.
/// </summary>
internal static unsafe partial class MappedPages
{
    private const int MadvDontNeed = 4; // MADV_DONTNEED on Linux and on macOS

    /// <summary>
    /// Releases the whole pages of the <paramref name="length"/> bytes at <paramref name="start"/>, which must lie in a read-only file mapping (never in
    /// memory the process wrote: on anonymous memory MADV_DONTNEED discards the data). Partial pages at either end
    /// stay, since they hold neighbouring tensors.
    /// </summary>
    public static void Release(byte* start, long length)
    {
        if (length <= 0 || !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return;
        var page = Environment.SystemPageSize;
        var first = ((long)start + page - 1) / page * page;
        var end = ((long)start + length) / page * page;
        if (end <= first) return;
        if (s_unavailable) return;
        try
        {
            // Advice only: a refusal (an old kernel, a sandbox) leaves the pages resident, as before.
            _ = Advise((nint)first, (nuint)(end - first), MadvDontNeed);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_unavailable = true; // a C library under another name: keep the pages, as before
        }
    }

    private static bool s_unavailable;

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = false)]
    private static partial int Advise(nint address, nuint length, int advice);
}
