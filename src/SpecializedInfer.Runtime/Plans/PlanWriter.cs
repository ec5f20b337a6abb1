using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using SpecializedInfer.Planning;

namespace SpecializedInfer;

/// <summary>
/// Writes a <see cref="LayerPlan"/> as a <c>*.plan.json</c> file that <see cref="PlanReader"/> reads back as the same
/// plan: every property that differs from its default (sub-layer pruning and merges included), thresholds with round-trip
/// precision, the calibration record.
/// Comments of a plan that was read are not kept. Paths (the manifest, probe sidecars) are written as the plan holds
/// them; <see cref="Rebase"/> makes them relative to another folder first.
/// </summary>
public static class PlanWriter
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        NewLine = "\n",
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string ToJson(LayerPlan plan, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, Options))
        {
            w.WriteStartObject();
            w.WriteString("manifest", plan.Manifest);
            if (description is not null) w.WriteString("description", description);
            if (plan.Prune.Count > 0) Numbers(w, "prune", plan.Prune);
            if (plan.Merge.Count > 0)
            {
                w.WriteStartArray("merge");
                foreach (var m in plan.Merge)
                {
                    w.WriteStartObject();
                    Numbers(w, "layers", m.Sources);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (plan.Share.Count > 0)
            {
                w.WriteStartArray("share");
                foreach (var s in plan.Share)
                {
                    w.WriteStartObject();
                    w.WriteNumber("layer", s.Layer);
                    w.WriteNumber("weightsOf", s.WeightsOf);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (plan.Order is { } order) Numbers(w, "order", order);
            if (plan.DecodeDepth is { } depth) w.WriteNumber("decodeDepth", depth);
            if (plan.Exits.Count > 0)
            {
                w.WriteStartArray("exits");
                foreach (var e in plan.Exits)
                {
                    w.WriteStartObject();
                    w.WriteNumber("afterStep", e.AfterStep);
                    Test(w, e.Test);
                    if (e.Head is { } head)
                    {
                        w.WriteStartObject("head");
                        w.WriteString("norm", head.Norm);
                        w.WriteString("output", head.Output);
                        if (head.Adapter is { } adapter)
                        {
                            w.WriteStartObject("adapter");
                            w.WriteString("norm", adapter.Norm);
                            w.WriteString("weight", adapter.Weight);
                            if (adapter.Bias is { } bias) w.WriteString("bias", bias);
                            w.WriteEndObject();
                        }
                        w.WriteEndObject();
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (plan.Skip.Count > 0)
            {
                w.WriteStartArray("skip");
                foreach (var k in plan.Skip)
                {
                    w.WriteStartObject();
                    w.WriteNumber("layer", k.Layer);
                    w.WriteString("test", PlanReader.SkipTestName(k.Test));
                    w.WriteNumber("threshold", k.Threshold);
                    if (k.Probe is not null) w.WriteString("probe", k.Probe);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (plan.KvFill != KvFill.Propagate) w.WriteString("kvFill", PlanReader.KvFillName(plan.KvFill));
            if (plan.Speculation is { } sp)
            {
                w.WriteStartObject("speculation");
                w.WriteNumber("draftSteps", sp.DraftSteps);
                w.WriteNumber("draftTokens", sp.DraftTokens);
                w.WriteEndObject();
            }
            if (plan.WeightType is not null) w.WriteString("weightType", plan.WeightType);
            if (plan.SkipAttention.Count > 0) Numbers(w, "skipAttention", plan.SkipAttention);
            if (plan.SkipFeedForward.Count > 0) Numbers(w, "skipFeedForward", plan.SkipFeedForward);
            if (plan.Calibration is { } c) Calibration(w, c);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>
    /// The plan with its manifest and probe paths, written relative to <paramref name="fromFolder"/>, made relative to
    /// <paramref name="toFolder"/> (where the plan is about to be written).
    /// </summary>
    public static LayerPlan Rebase(LayerPlan plan, string fromFolder, string toFolder)
    {
        ArgumentNullException.ThrowIfNull(plan);
        string Move(string path) =>
            Path.GetRelativePath(Path.GetFullPath(toFolder), Path.GetFullPath(Path.Combine(fromFolder, path))).Replace('\\', '/');
        ExitTest MoveTest(ExitTest t) => t with
        {
            Probe = t.Probe is null ? null : Move(t.Probe),
            Members = t.Members.Select(MoveTest).ToArray(),
        };
        return plan with
        {
            Manifest = Move(plan.Manifest),
            Exits = plan.Exits.Select(e => e with { Test = MoveTest(e.Test) }).ToArray(),
            Skip = plan.Skip.Select(k => k with { Probe = k.Probe is null ? null : Move(k.Probe) }).ToArray(),
            Probes = plan.Probes.Select(p => p with { File = Move(p.File) }).OrderBy(p => p.File, StringComparer.Ordinal).ToArray(),
        };
    }

    private static void Test(Utf8JsonWriter w, ExitTest t)
    {
        w.WriteString("criterion", PlanReader.CriterionName(t.Criterion));
        switch (t.Criterion)
        {
            case ExitCriterion.Patience:
                w.WriteNumber("patience", t.Patience);
                break;
            case ExitCriterion.Ensemble:
                w.WriteNumber("votes", t.Votes);
                w.WriteStartArray("members");
                foreach (var m in t.Members)
                {
                    w.WriteStartObject();
                    Test(w, m);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                break;
            default:
                w.WriteNumber("threshold", t.Threshold);
                if (t.Probe is not null) w.WriteString("probe", t.Probe);
                break;
        }
    }

    private static void Calibration(Utf8JsonWriter w, PlanCalibration c)
    {
        w.WriteStartObject("calibration");
        w.WriteString("method", c.Method);
        w.WriteNumber("targetAgreement", c.TargetAgreement);
        w.WriteNumber("delta", c.Delta);
        w.WriteNumber("tokens", c.Tokens);
        w.WriteNumber("disagreements", c.Disagreements);
        w.WriteNumber("agreement", c.Agreement);
        w.WriteNumber("pValue", c.PValue);
        w.WriteNumber("strictness", c.Strictness);
        w.WriteNumber("gridSteps", c.GridSteps);
        w.WriteNumber("tokensPerPrompt", c.TokensPerPrompt);
        w.WritePropertyName("model");
        File(w, c.Model);
        w.WriteStartArray("data");
        foreach (var f in c.Data) File(w, f);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void File(Utf8JsonWriter w, CalibrationFile f)
    {
        w.WriteStartObject();
        w.WriteString("file", f.File);
        w.WriteString("sha256", f.Sha256);
        w.WriteEndObject();
    }

    private static void Numbers(Utf8JsonWriter w, string name, IEnumerable<int> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }
}
