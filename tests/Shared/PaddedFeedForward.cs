using System.Runtime.InteropServices;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Testing;

/// <summary>
/// stories260K made quantizable: its feed-forward width of 172 is no multiple of 32 (llama.cpp and si quantize refuse
/// it), so the test models pad it with zeros (zero gate/up rows and down columns add exactly nothing in F32), keeping
/// the trained model's text.
/// </summary>
/// <remarks>This file is linked into both test projects (tests/Shared).</remarks>
public static class PaddedFeedForward
{
    /// <summary>Copies an F32 model with its feed-forward width padded to <paramref name="hidden"/> by zeros.</summary>
    public static void Write(string source, string destination, int hidden)
    {
        using var file = GgufFile.Open(source);
        var old = (int)file.GetInteger("llama.feed_forward_length");
        var writer = new GgufWriter();
        foreach (var (key, value) in file.Metadata)
            writer.Add(key, key == "llama.feed_forward_length" ? GgufValue.Of((uint)hidden) : value);
        foreach (var t in file.Tensors)
        {
            var values = MemoryMarshal.Cast<byte, float>(file.GetBytes(t)).ToArray();
            if (t.Name.EndsWith("ffn_gate.weight", StringComparison.Ordinal) || t.Name.EndsWith("ffn_up.weight", StringComparison.Ordinal))
                writer.AddTensor(t.Name, [t.Dimensions[0], hidden], [.. values, .. new float[t.Dimensions[0] * (hidden - old)]]);
            else if (t.Name.EndsWith("ffn_down.weight", StringComparison.Ordinal))
            {
                var rows = (int)t.Dimensions[1];
                var padded = new float[rows * hidden];
                for (var r = 0; r < rows; r++) values.AsSpan(r * old, old).CopyTo(padded.AsSpan(r * hidden));
                writer.AddTensor(t.Name, [hidden, rows], padded);
            }
            else writer.AddTensor(t.Name, t.Dimensions, t.Type, file.GetBytes(t));
        }
        writer.Write(destination);
    }

}
