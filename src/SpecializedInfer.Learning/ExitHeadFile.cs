using SpecializedInfer.Gguf;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Learning;

/// <summary>
/// Learned exit heads as tensors in a copy of a GGUF model: every tensor and metadata entry of the source, then per
/// head <c>exit.{step}.norm.weight</c> [dim] and <c>exit.{step}.output.weight</c> [vocab × dim] (F32), which a plan's
/// exit names through <c>"head": { "norm": ..., "output": ... }</c>. The source is only read; the copy is written
/// beside its destination and renamed into place (<see cref="GgufWriter.Write(string)"/>).
/// </summary>
public static class ExitHeadFile
{
    /// <summary>The tensor names of the head learned for the exit after <paramref name="step"/>.</summary>
    public static ExitHead NamesFor(int step) => new($"exit.{step}.norm.weight", $"exit.{step}.output.weight");

    public static void Write(string sourcePath, string destinationPath, IReadOnlyList<(int Step, HeadProjection Head)> heads)
    {
        ArgumentNullException.ThrowIfNull(heads);
        if (string.Equals(Path.GetFullPath(sourcePath), Path.GetFullPath(destinationPath), StringComparison.Ordinal))
            throw new ArgumentException($"The exit heads go into a copy of {sourcePath}, not into the model itself; name another output file.", nameof(destinationPath));
        using var source = GgufFile.Open(sourcePath);
        var writer = new GgufWriter();
        foreach (var (key, value) in source.Metadata) writer.Add(key, value);
        foreach (var t in source.Tensors)
        {
            var tensor = t;
            writer.AddTensor(tensor.Name, tensor.Dimensions, tensor.Type, () => source.GetBytes(tensor).ToArray());
        }
        foreach (var (step, head) in heads)
        {
            var names = NamesFor(step);
            if (source.HasTensor(names.Norm) || source.HasTensor(names.Output))
                throw new ArgumentException($"{sourcePath} already has a tensor named {names.Norm} or {names.Output}; write the heads into a copy of the original model.", nameof(sourcePath));
            writer.AddTensor(names.Norm, [head.Dim], head.Norm);
            writer.AddTensor(names.Output, [head.Dim, head.Vocab], head.Output);
        }
        writer.Write(destinationPath);
    }
}
