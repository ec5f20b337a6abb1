using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using SpecializedInfer.Planning;

namespace SpecializedInfer;

/// <summary>
/// Writes a <see cref="LayerPlan"/> as the JSON <see cref="PlanReader"/> reads back into the same plan: properties in
/// the order docs/plans.md lists them, only those that differ from the defaults, shortest round-trip numbers.
/// </summary>
public static class PlanWriter
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        NewLine = "\n",
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // a file, not HTML: non-ASCII paths stay readable
    };

    private static readonly Dictionary<ExitCriterion, string> Criteria = new()
    {
        [ExitCriterion.MaxProbability] = "maxProbability", [ExitCriterion.Margin] = "margin", [ExitCriterion.Entropy] = "entropy",
        [ExitCriterion.StateSaturation] = "stateSaturation", [ExitCriterion.Patience] = "patience", [ExitCriterion.Ensemble] = "ensemble",
        [ExitCriterion.Learned] = "learned",
    };

    /// <param name="plan">the plan</param>
    /// <param name="description">an optional 'description' property, written first after the manifest</param>
    public static string ToJson(LayerPlan plan, string? description = null)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, Options))
        {
            w.WriteStartObject();
            w.WriteString("manifest", plan.Manifest);
            if (description is not null) w.WriteString("description", description);
            Numbers(w, "prune", plan.Prune);
            if (!plan.Merge.IsEmpty)
            {
                w.WriteStartArray("merge");
                foreach (var m in plan.Merge)
                {
                    w.WriteStartObject();
                    Numbers(w, "layers", m.Sources.ToEquatableArray());
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (!plan.Share.IsEmpty)
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
            if (plan.Order is { } order)
            {
                w.WriteStartArray("order");
                foreach (var l in order) w.WriteNumberValue(l);
                w.WriteEndArray();
            }
            if (plan.DecodeDepth is { } depth) w.WriteNumber("decodeDepth", depth);
            if (!plan.Exits.IsEmpty)
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
                        w.WriteEndObject();
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (!plan.Skip.IsEmpty)
            {
                w.WriteStartArray("skip");
                foreach (var k in plan.Skip)
                {
                    w.WriteStartObject();
                    w.WriteNumber("layer", k.Layer);
                    w.WriteString("test", k.Test == SkipTest.Cosine ? "cosine" : "learned");
                    w.WriteNumber("threshold", k.Threshold);
                    if (k.Probe is not null) w.WriteString("probe", k.Probe);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (plan.KvFill != KvFill.Propagate) w.WriteString("kvFill", plan.KvFill.ToString().ToLowerInvariant());
            if (plan.Speculation is { } sp)
            {
                w.WriteStartObject("speculation");
                w.WriteNumber("draftSteps", sp.DraftSteps);
                w.WriteNumber("draftTokens", sp.DraftTokens);
                w.WriteEndObject();
            }
            Numbers(w, "skipAttention", plan.SkipAttention);
            Numbers(w, "skipFeedForward", plan.SkipFeedForward);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>The criterion and the parameters it uses (an ensemble's members written the same way).</summary>
    private static void Test(Utf8JsonWriter w, ExitTest t)
    {
        w.WriteString("criterion", Criteria[t.Criterion]);
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

    private static void Numbers(Utf8JsonWriter w, string name, EquatableArray<int> values)
    {
        if (values.IsEmpty) return;
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }
}
