using System.Collections.Generic;
using SpecializedInfer.Planning.Json;

namespace SpecializedInfer.Planning;

/// <summary>
/// A learned exit or skip probe (a <c>NAME.probe.json</c> sidecar): score = sigmoid(<see cref="Bias"/> + w·x̂), where x̂
/// is the hidden state divided by its root mean square (x / sqrt(mean(x²) + normEps)). <see cref="File"/> is the path
/// as the plan names it.
/// </summary>
public sealed record LinearProbe(string File, float Bias, IReadOnlyList<float> Weights)
{
    // An equatable field, so probes with the same weights are equal.
    private readonly EquatableArray<float> _weights = Weights.ToEquatableArray();

    public IReadOnlyList<float> Weights { get => _weights; init => _weights = value.ToEquatableArray(); }

    public int Dim => Weights.Count;
}

/// <summary>The outcome of reading a probe file: the probe when it has no errors, and every problem found.</summary>
public sealed record ProbeReadResult(LinearProbe? Probe, IReadOnlyList<PlanProblem> Problems)
{
    private readonly EquatableArray<PlanProblem> _problems = Problems.ToEquatableArray();

    public IReadOnlyList<PlanProblem> Problems { get => _problems; init => _problems = value.ToEquatableArray(); }
}

/// <summary>
/// Reads a probe sidecar: <c>{ "dim": 64, "bias": -1.5, "weights": [ 64 numbers ] }</c>. Never throws; problems carry
/// the probe file's positions.
/// </summary>
public static class ProbeReader
{
    public const string Extension = ".probe.json";

    private static readonly string[] Known = { "$schema", "description", "dim", "bias", "weights" };

    /// <param name="text">the probe file's JSON</param>
    /// <param name="reference">the path as the plan names it (kept in the probe for lookups)</param>
    /// <param name="filePath">the file's full path, for problem locations</param>
    /// <param name="dim">the model's width, or 0 to skip the check</param>
    public static ProbeReadResult Read(string text, string reference, string filePath, int dim)
    {
        var cx = new JsonReadContext(filePath);
        if (cx.ParseObject(text, "A probe file") is not { } obj) return Done(null);
        cx.CheckProperties(obj, "the probe", Known);
        cx.AsString(obj.Find("description")?.Value, "'description'");
        var dimNode = cx.Required(obj, "dim", "A probe");
        var declared = cx.AsInt(dimNode, "'dim'", 1, int.MaxValue);
        var bias = cx.AsDouble(cx.Required(obj, "bias", "A probe"), "'bias'");
        var weightsNode = cx.AsArray(cx.Required(obj, "weights", "A probe"), "'weights'");
        var weights = new List<float>();
        if (weightsNode is not null)
            foreach (var item in weightsNode.Items)
                if (cx.AsDouble(item, "A weight") is { } w)
                {
                    if (double.IsNaN(w) || double.IsInfinity(w) || System.Math.Abs(w) > float.MaxValue)
                        cx.Report(ProblemIds.InvalidProbe, $"A probe weight must be a finite single-precision number, found {w}", item.Range);
                    weights.Add((float)w);
                }
        if (declared is { } d && weightsNode is not null && weights.Count != d && !cx.HasErrors)
            cx.Report(ProblemIds.InvalidProbe, $"The probe declares 'dim' {d} but lists {weights.Count} weights", weightsNode.Range);
        if (declared is { } d2 && dim > 0 && d2 != dim)
            cx.Report(ProblemIds.InvalidProbe, $"The probe reads hidden states of width {d2}, but the model's dim is {dim}", dimNode!.Range);
        if (cx.HasErrors || bias is null) return Done(null);
        return Done(new LinearProbe(reference, (float)bias.Value, weights.ToEquatableArray()));

        ProbeReadResult Done(LinearProbe? probe) => new(probe, cx.Problems());
    }

    /// <summary>The probe file's text: dim, bias and weights with round-trip precision.</summary>
    public static string Write(float bias, IReadOnlyList<float> weights, string? description = null)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.Append("{\n");
        if (description is not null) sb.Append("  \"description\": \"").Append(description.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append("\",\n");
        sb.Append("  \"dim\": ").Append(weights.Count.ToString(inv)).Append(",\n");
        sb.Append("  \"bias\": ").Append(bias.ToString("R", inv)).Append(",\n");
        sb.Append("  \"weights\": [");
        for (var i = 0; i < weights.Count; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(i % 8 == 0 ? "\n    " : " ").Append(weights[i].ToString("R", inv));
        }
        sb.Append("\n  ]\n}\n");
        return sb.ToString();
    }
}
