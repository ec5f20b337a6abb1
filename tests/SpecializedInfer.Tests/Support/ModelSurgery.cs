using System.Runtime.InteropServices;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Tests.Support;

/// <summary>
/// Rewrites a GGUF model's layer stack: new layer i gets the tensors of source layer map[i]. A plan that prunes,
/// shares, reorders or repeats layers must compute exactly what the rewritten model computes, which gives the
/// schedule an oracle independent of the schedule code. Tensors can also be replaced (named in the new numbering):
/// zeroing a layer's <c>attn_output</c> or <c>ffn_down</c> removes that half of the block from the residual stream.
/// </summary>
public static class ModelSurgery
{
    public static void RewriteLayers(string sourcePath, string destinationPath, int[] map) =>
        RewriteLayers(sourcePath, destinationPath, map, new Dictionary<string, float[]>());

    /// <summary>As above, with the F32 tensors in <paramref name="zeroed"/> (new names) written as zeros.</summary>
    public static void RewriteLayers(string sourcePath, string destinationPath, int[] map, IEnumerable<string> zeroed)
    {
        using var source = GgufFile.Open(sourcePath);
        var replaced = new Dictionary<string, float[]>();
        foreach (var name in zeroed)
        {
            var (layer, part) = Split(name);
            var original = source.GetTensor($"blk.{map[layer]}.{part}");
            replaced[name] = new float[original.ElementCount];
        }
        RewriteLayers(sourcePath, destinationPath, map, replaced);
    }

    /// <summary>As above, with the tensors in <paramref name="replaced"/> (new names) written as the F32 values given.</summary>
    public static void RewriteLayers(string sourcePath, string destinationPath, int[] map, IReadOnlyDictionary<string, float[]> replaced)
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
            {
                var name = $"blk.{i}." + t.Name[prefix.Length..];
                if (replaced.TryGetValue(name, out var values))
                    writer.AddTensor(name, t.Dimensions, GgmlType.F32, MemoryMarshal.AsBytes(values.AsSpan()));
                else writer.AddTensor(name, t.Dimensions, t.Type, source.GetBytes(t));
            }
        }
        writer.Write(destinationPath);
    }

    private static (int Layer, string Part) Split(string name)
    {
        var parts = name.Split('.', 3); // blk.N.rest
        return (int.Parse(parts[1]), parts[2]);
    }
}
