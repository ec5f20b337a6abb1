using System.Runtime.InteropServices;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Compaction;

/// <summary>
/// What <see cref="ModelCompactor.Compact"/> wrote, and how much smaller the model became. <see cref="LayerSources"/>
/// gives, for each layer of the new file, the layer whose weights it holds (a merge's first layer holds the merged ones).
/// </summary>
public sealed record CompactionResult(
    string ModelPath, string ManifestPath, string PlanPath, LayerPlan Plan,
    int SourceLayers, IReadOnlyList<int> LayerSources, long SourceBytes, long OutputBytes)
{
    public long BytesSaved => SourceBytes - OutputBytes;
}

/// <summary>
/// <c>si compact</c>: the model file a plan actually needs. Layers no step reads (pruned, left out of <c>order</c>,
/// merged away, or running with another layer's weights) are not written; weights several steps share are stored once;
/// a LaCo merge is written as its merged tensors. Beside the model it writes the manifest of the new file and the plan
/// rewritten for it (the same steps, exits, skips and KV strategy, with layers renumbered), which computes bit for bit
/// what the original model computes under the original plan.
/// </summary>
/// <remarks>
/// Layers are renumbered in the order of the weights they hold, so a plan that only prunes gives a plain model with
/// fewer layers and a plan with no <c>order</c>. A plan property keyed by layer (a skip rule, <c>skipAttention</c>,
/// <c>skipFeedForward</c>) follows the step's layer, not its weights: when two layers run with one set of weights but
/// differ in such a property, the new file keeps one copy of those weights per variant, so the rewritten plan can
/// still say which steps the property applies to.
/// </remarks>
public static class ModelCompactor
{
    /// <summary>The new layer a step runs: the weights it reads and the properties its layer carries.</summary>
    private sealed record LayerIdentity(int WeightsOf, SkipRule? Skip, bool Attention, bool FeedForward);

    public static CompactionResult Compact(string modelPath, string planPath, string outputPath)
    {
        var loaded = PlanLoader.Load(planPath);
        var plan = loaded.Plan;
        var schedule = loaded.Schedule;
        outputPath = Path.GetFullPath(outputPath);
        var stem = outputPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? outputPath[..^".gguf".Length] : outputPath;
        var manifestPath = stem + ManifestReader.Extension;
        var newPlanPath = stem + PlanReader.Extension;
        var outputDirectory = Path.GetDirectoryName(outputPath)!;
        if (!Directory.Exists(outputDirectory)) throw new DirectoryNotFoundException($"The folder of --output {outputPath} does not exist.");

        using var weights = LlamaWeights.Load(modelPath, loaded.Manifest, loaded.ManifestPath, schedule.LoadedLayers);
        var source = weights.File;
        var sourceBytes = source.FileLength; // before writing: the output may replace the model itself
        // Exit heads are read by name, whatever the name: copied as they are, never renumbered with a layer.
        var heads = new HashSet<string>(plan.Exits.Where(e => e.Head is not null).SelectMany(e => e.Head!.TensorNames));
        bool IsLayerTensor(GgufTensorInfo t) => t.Name.StartsWith("blk.", StringComparison.Ordinal) && !heads.Contains(t.Name);

        // One new layer per distinct identity, numbered by the weights it holds, then by the first step running it.
        var identities = schedule.Steps.Select(s => new LayerIdentity(s.WeightsOf,
            plan.Skip.FirstOrDefault(k => k.Layer == s.Layer), s.RunsAttention, s.RunsFeedForward)).ToList();
        var layers = identities.Select((id, step) => (id, step)).GroupBy(x => x.id)
            .OrderBy(g => g.Key.WeightsOf).ThenBy(g => g.Min(x => x.step)).Select(g => g.Key).ToList();
        var newLayer = layers.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i);

        var writer = new GgufWriter();
        foreach (var (key, value) in source.Metadata)
            writer.Add(key, key == LlamaModelRules.Key(weights.Config.Architecture, "block_count") ? GgufValue.Of((uint)layers.Count) : value);
        foreach (var t in source.Tensors.Where(t => !IsLayerTensor(t)))
            writer.AddTensor(t.Name, t.Dimensions, t.Type, () => source.GetBytes(t).ToArray());
        var keepAlive = new List<float[]>();
        for (var n = 0; n < layers.Count; n++)
        {
            var from = layers[n].WeightsOf;
            var prefix = $"blk.{from}.";
            var merged = schedule.MergeInto(from) is { } merge ? MergedTensors(weights, merge, keepAlive) : null;
            foreach (var t in source.Tensors.Where(t => IsLayerTensor(t) && t.Name.StartsWith(prefix, StringComparison.Ordinal)))
            {
                var name = $"blk.{n}." + t.Name[prefix.Length..];
                if (merged is not null && merged.TryGetValue(t.Name[prefix.Length..], out var values))
                    writer.AddTensor(name, t.Dimensions, GgmlType.F32, MemoryMarshal.AsBytes(values.AsSpan()));
                else writer.AddTensor(name, t.Dimensions, t.Type, () => source.GetBytes(t).ToArray());
            }
        }
        writer.Write(outputPath);

        // The manifest of the file just written, and the plan rewritten for it.
        ModelManifest writtenManifest;
        using (var written = LlamaWeights.Load(outputPath, layersToBind: []))
            writtenManifest = ManifestCheck.FromFile(written.File, written.Config, Path.GetFileName(stem));
        WriteText(manifestPath, ManifestWriter.ToJson(writtenManifest));
        var rewritten = Rewrite(plan, identities, newLayer, layers, Path.GetFileName(manifestPath),
            probe => Relative(outputDirectory, Path.Combine(Path.GetDirectoryName(loaded.PlanPath)!, probe)));
        // A merge writes F32 layers beside the others, so the compacted file's type is the new manifest's to say.
        if (rewritten.WeightType is not null) rewritten = rewritten with { WeightType = writtenManifest.WeightType };
        WriteText(newPlanPath, PlanWriter.ToJson(rewritten, $"{Path.GetFileName(loaded.PlanPath)} compacted by si compact from {Path.GetFileName(modelPath)}"));

        return new CompactionResult(outputPath, manifestPath, newPlanPath, rewritten, weights.Config.Layers,
            layers.Select(l => l.WeightsOf).ToList(), sourceBytes, new FileInfo(outputPath).Length);
    }

    /// <summary>
    /// The plan for the new file: the same steps in the same order (so exits, decode depth and speculation keep their
    /// step numbers), each step running its new layer, with the layer-keyed properties moved to the new layers.
    /// </summary>
    private static LayerPlan Rewrite(LayerPlan plan, List<LayerIdentity> steps, Dictionary<LayerIdentity, int> newLayer,
        List<LayerIdentity> layers, string manifest, Func<string, string> probe)
    {
        var order = steps.Select(s => newLayer[s]).ToList();
        var isDefault = order.SequenceEqual(Enumerable.Range(0, layers.Count));
        return new LayerPlan
        {
            Manifest = manifest,
            Order = isDefault ? null : order.ToArray(),
            DecodeDepth = plan.DecodeDepth,
            Exits = plan.Exits.Select(e => e with { Test = WithProbes(e.Test, probe) }).ToArray(),
            Skip = layers.Select((id, n) => id.Skip is { } k ? k with { Layer = n, Probe = k.Probe is null ? null : probe(k.Probe) } : null)
                .Where(k => k is not null).Select(k => k!).ToArray(),
            KvFill = plan.KvFill,
            Speculation = plan.Speculation,
            SkipAttention = layers.Select((id, n) => (id, n)).Where(x => !x.id.Attention).Select(x => x.n).ToArray(),
            SkipFeedForward = layers.Select((id, n) => (id, n)).Where(x => !x.id.FeedForward).Select(x => x.n).ToArray(),
        };
    }

    private static ExitTest WithProbes(ExitTest test, Func<string, string> probe) => test with
    {
        Probe = test.Probe is null ? null : probe(test.Probe),
        Members = test.Members.Select(m => WithProbes(m, probe)).ToArray(),
    };

    /// <summary>A merge's tensors by GGUF name suffix (<c>attn_q.weight</c>...), computed as the reference engine computes them.</summary>
    private static Dictionary<string, float[]> MergedTensors(LlamaWeights weights, LayerMerge merge, List<float[]> keepAlive)
    {
        var layer = LayerMerging.Merge(weights, merge, keepAlive);
        var tensors = new (string Name, WeightTensor Tensor)[]
        {
            ("attn_norm.weight", layer.AttentionNorm), ("attn_q.weight", layer.Query), ("attn_k.weight", layer.Key),
            ("attn_v.weight", layer.Value), ("attn_output.weight", layer.Output), ("ffn_norm.weight", layer.FeedForwardNorm),
            ("ffn_gate.weight", layer.Gate), ("ffn_up.weight", layer.Up), ("ffn_down.weight", layer.Down),
        };
        if (layer.Biases is { } b)
            tensors = [.. tensors, ("attn_q.bias", b.Query), ("attn_k.bias", b.Key), ("attn_v.bias", b.Value)];
        return tensors.ToDictionary(t => t.Name, t => t.Tensor.Span.ToArray());
    }

    /// <summary>A path relative to <paramref name="directory"/>, with '/' separators as plans write them.</summary>
    private static string Relative(string directory, string path) =>
        Path.GetRelativePath(directory, Path.GetFullPath(path)).Replace('\\', '/');

    /// <summary>Written beside and renamed into place, like the model file.</summary>
    private static void WriteText(string path, string text)
    {
        var temp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }
}
