using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace SpecializedInfer.Cli.Engines;

/// <summary>
/// Compiled generated engines on disk, one file per engine, named by a hash of everything the assembly depends on:
/// the plan, manifest and probe files (paths and contents), the class name, and the exact generator, runtime,
/// compiler and reference assemblies (<see cref="BuildIdentity"/>). Any change to one of them is a new entry, so an
/// entry is never stale; old entries are simply left behind.
/// </summary>
/// <remarks>
/// An entry is <c>SIENGINE1</c>, the SHA-256 of the assembly, then the assembly. It is written to a temporary file in
/// the same folder and renamed into place, so a reader sees a whole entry or none. A read that finds a truncated or
/// altered entry (the hash does not match) reports it as missing, and the caller rebuilds it.
/// </remarks>
internal sealed class EngineCache(string directory)
{
    /// <summary>The environment variable that overrides where engines are cached.</summary>
    public const string DirectoryVariable = "SPECIALIZEDINFER_ENGINE_CACHE";

    private static readonly byte[] Magic = "SIENGINE1"u8.ToArray();

    public string Directory { get; } = directory;

    /// <summary>
    /// <c>$SPECIALIZEDINFER_ENGINE_CACHE</c> when set; otherwise the user's cache folder: <c>%LocalAppData%\SpecializedInfer\engines</c>
    /// on Windows, <c>$XDG_CACHE_HOME/specializedinfer/engines</c> (default <c>~/.cache</c>) elsewhere.
    /// </summary>
    public static string DefaultDirectory()
    {
        if (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } configured) return Path.GetFullPath(configured);
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "SpecializedInfer", "engines");
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = xdg is { Length: > 0 } && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "specializedinfer", "engines");
    }

    /// <summary>The entry's file: the class name for a reader, then the key.</summary>
    public string PathOf(EngineSources sources) => Path.Combine(Directory, $"{sources.ClassName}-{Key(sources)}.engine");

    /// <summary>The hex SHA-256 naming an engine: its sources and every assembly its code comes from or binds to.</summary>
    public static string Key(EngineSources sources)
    {
        var text = new StringBuilder("si generated engine v1\n");
        foreach (var identity in BuildIdentity.Value) text.Append(identity).Append('\n');
        text.Append("class ").Append(sources.ClassName).Append('\n').Append("plan ").Append(sources.PlanPath).Append('\n');
        foreach (var file in sources.Files)
            text.Append("file ").Append(file.Path).Append('\n').Append(file.Text.Length).Append('\n').Append(file.Text).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>
    /// Each assembly that shapes a compiled engine: the generator and the runtime (this repository's builds, which
    /// change between commits under the same version) by name and content hash; the compiler, the reference
    /// assemblies, System.Numerics.Tensors and Microsoft.Extensions.AI.Abstractions (packages, fixed per version) by name and module version id, without
    /// reading their 17 MB on every run.
    /// </summary>
    private static readonly Lazy<string[]> BuildIdentity = new(() =>
    [
        .. new[] { GeneratedEngineCompiler.GeneratorAssembly, typeof(SpecializedInfer.Engine.ReferenceEngine).Assembly }
            .Select(a => $"{a.FullName}, {ContentHash(a.Location)}"),
        .. new[] { typeof(Microsoft.CodeAnalysis.CSharp.CSharpCompilation).Assembly, typeof(Microsoft.CodeAnalysis.Compilation).Assembly,
                   typeof(Basic.Reference.Assemblies.Net100).Assembly, typeof(System.Numerics.Tensors.TensorPrimitives).Assembly,
                   typeof(Microsoft.Extensions.AI.IEmbeddingGenerator).Assembly }
            .Select(a => $"{a.FullName}, {a.ManifestModule.ModuleVersionId}"),
    ]);

    private static string ContentHash(string path)
    {
        if (path.Length == 0) return "(no file)";
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// The entry's assembly, or null when there is none or it is <paramref name="damaged"/> (truncated, altered, not
    /// an entry: then it is deleted, best effort, for the caller to rebuild).
    /// </summary>
    public static byte[]? TryRead(string path, out bool damaged)
    {
        damaged = false;
        byte[] entry;
        try
        {
            if (!File.Exists(path)) return null;
            entry = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var header = Magic.Length + SHA256.HashSizeInBytes;
        if (entry.Length > header && entry.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            var assembly = entry.AsSpan(header);
            if (SHA256.HashData(assembly).AsSpan().SequenceEqual(entry.AsSpan(Magic.Length, SHA256.HashSizeInBytes))) return assembly.ToArray();
        }
        damaged = true;
        Delete(path);
        return null;
    }

    /// <summary>Stores an assembly: written beside the entry under a unique name, then renamed over it.</summary>
    public void Write(string path, byte[] assembly)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var temp = Path.Combine(Directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(Magic);
                stream.Write(SHA256.HashData(assembly));
                stream.Write(assembly);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            Delete(temp);
        }
    }

    public static void Delete(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
