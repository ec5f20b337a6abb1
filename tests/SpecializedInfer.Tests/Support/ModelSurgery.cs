using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tests.Support;

/// <summary>
/// Rewrites a GGUF model's layer stack: new layer i gets the tensors of source layer map[i]. A plan that prunes,
/// shares, reorders or repeats layers must compute exactly what the rewritten model computes, which gives the
/// schedule an oracle independent of the schedule code.
/// </summary>
public static class ModelSurgery
{
    public static void RewriteLayers(string sourcePath, string destinationPath, int[] map)
    {
        using var source = GgufFile.Open(sourcePath);
        var writer = new GgufWriter();
        foreach (var (key, value) in source.Metadata)
            writer.Add(key, key == "llama.block_count" ? GgufValue.Of((uint)map.Length) : value);
        foreach (var t in source.Tensors.Where(t => !t.Name.StartsWith("blk.", StringComparison.Ordinal)))
            writer.AddTensor(t.Name, t.Dimensions, t.Type, source.GetBytes(t));
        for (var i = 0; i < map.Length; i++)
        {
            var prefix = $"blk.{map[i]}.";
            foreach (var t in source.Tensors.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal)))
                writer.AddTensor($"blk.{i}." + t.Name[prefix.Length..], t.Dimensions, t.Type, source.GetBytes(t));
        }
        writer.Write(destinationPath);
    }
}
