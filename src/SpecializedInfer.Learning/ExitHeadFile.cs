using SpecializedInfer.Gguf;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Learning;

/// <summary>
/// Learned exit heads as tensors in a copy of a GGUF model: every tensor and metadata entry of the source, then per
/// full head <c>exit.{step}.norm.weight</c> [dim] and <c>exit.{step}.output.weight</c> [vocab × dim], per adapter head
/// <c>exit.{step}.adapter.norm.weight</c> [dim], <c>exit.{step}.adapter.weight</c> [dim × dim] and
/// <c>exit.{step}.adapter.bias</c> [dim] (all F32), which a plan's exit names through its <c>"head"</c>
/// (<see cref="NamesFor(int, HeadProjection, string, string)"/>). The source is only read; the copy is written
/// beside its destination and renamed into place (<see cref="GgufWriter.Write(string)"/>).
/// </summary>
public static class ExitHeadFile
{
    /// <summary>The tensor names of the head learned for the exit after <paramref name="step"/>.</summary>
    public static ExitHead NamesFor(int step) => new($"exit.{step}.norm.weight", $"exit.{step}.output.weight");

    /// <summary>
    /// The plan's names for <paramref name="head"/> learned after <paramref name="step"/>: its own tensors for a full
    /// head; for an adapter head, the adapter's tensors in front of the model's final norm and output matrix
    /// (<paramref name="modelNorm"/>, <paramref name="modelOutput"/>: the token embedding when the output is tied).
    /// </summary>
    public static ExitHead NamesFor(int step, HeadProjection head, string modelNorm, string modelOutput) =>
        head.Adapter is null
            ? NamesFor(step)
            : new ExitHead(modelNorm, modelOutput, new ExitAdapter($"exit.{step}.adapter.norm.weight", $"exit.{step}.adapter.weight", $"exit.{step}.adapter.bias"));

    public static void Write(string sourcePath, string destinationPath, IReadOnlyList<(int Step, HeadProjection Head)> heads)
    {
        ArgumentNullException.ThrowIfNull(heads);
        if (string.Equals(Path.GetFullPath(sourcePath), Path.GetFullPath(destinationPath), StringComparison.Ordinal))
            throw new ArgumentException($"The exit heads go into a copy of {sourcePath}, not into the model itself; name another output file.");
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
            var written = head.Adapter is { } fitted
                ? new (string Name, long[] Dims, float[] Values)[]
                {
                    ($"exit.{step}.adapter.norm.weight", [head.Dim], fitted.Norm),
                    ($"exit.{step}.adapter.weight", [head.Dim, head.Dim], fitted.Weight),
                    ($"exit.{step}.adapter.bias", [head.Dim], fitted.Bias),
                }
                : [(NamesFor(step).Norm, [head.Dim], head.Norm.ToArray()), (NamesFor(step).Output, [head.Dim, head.Vocab], head.Output.ToArray())];
            if (written.FirstOrDefault(t => source.HasTensor(t.Name)).Name is { } taken)
                throw new ArgumentException($"{sourcePath} already has a tensor named {taken}; write the heads into a copy of the original model.");
            foreach (var (name, dims, values) in written) writer.AddTensor(name, dims, values);
        }
        writer.Write(destinationPath);
    }
}
