using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SpecializedInfer.Planning.Json;

namespace SpecializedInfer.Planning;

/// <summary>The outcome of reading a plan: the plan when it has no errors, and every problem found.</summary>
public sealed record PlanReadResult(LayerPlan? Plan, EquatableArray<PlanProblem> Problems);

/// <summary>
/// Reads a <c>NAME.plan.json</c> file and checks it against its manifest. Never throws: every mistake becomes a
/// <see cref="PlanProblem"/> at the offending value's line and column.
/// </summary>
public static class PlanReader
{
    public const string Extension = ".plan.json";

    private static readonly string[] Known = { "$schema", "manifest", "description", "prune", "share", "order", "decodeDepth", "exits", "kvFill" };
    private static readonly string[] KnownShare = { "layer", "weightsOf" };
    private static readonly string[] KnownExit = { "afterStep", "criterion", "threshold" };

    private static readonly Dictionary<string, ExitCriterion> Criteria = new() { ["maxProbability"] = ExitCriterion.MaxProbability };
    private static readonly Dictionary<string, KvFill> KvFills = new() { ["propagate"] = KvFill.Propagate };

    /// <summary>The manifest path a plan names, or null when the text does not get that far.</summary>
    public static string? ReadManifestReference(string text) =>
        JsonParser.Parse(text, out _) is JsonObject obj && obj.Find("manifest")?.Value is JsonString s ? s.Value : null;

    /// <summary>Reads the plan; with <paramref name="manifest"/> null only the plan's own structure is checked.</summary>
    public static PlanReadResult Read(string text, string filePath, ModelManifest? manifest)
    {
        var problems = new List<PlanProblem>();
        var cx = new JsonReadContext(filePath, problems);
        var root = JsonParser.Parse(text, out var syntax);
        if (syntax is not null)
        {
            cx.Report(ProblemIds.JsonSyntax, $"JSON syntax error: {syntax.Message}", syntax.Range);
            return Done(null);
        }
        var obj = cx.AsObject(root, "A layer plan");
        if (obj is null) return Done(null);
        cx.CheckProperties(obj, "the layer plan", Known);
        cx.AsString(obj.Find("description")?.Value, "'description'");
        var manifestRef = cx.AsString(cx.Required(obj, "manifest", "A layer plan"), "'manifest'");

        var layers = manifest?.Layers ?? int.MaxValue;

        // prune
        var prune = new List<int>();
        var pruneNodes = new Dictionary<int, JsonNode>();
        if (cx.AsArray(obj.Find("prune")?.Value, "'prune'") is { } pruneArray)
            foreach (var item in pruneArray.Items)
                if (LayerIndex(cx, item, "An entry of 'prune'", layers) is { } l)
                {
                    if (pruneNodes.ContainsKey(l)) cx.Report(ProblemIds.DuplicateIndex, $"Layer {l} is listed twice in 'prune'", item.Range);
                    else { pruneNodes[l] = item; prune.Add(l); }
                }
        var pruned = new HashSet<int>(prune);

        // share
        var shares = new List<LayerShare>();
        var shareNodes = new List<(LayerShare Share, JsonObject Node)>();
        if (cx.AsArray(obj.Find("share")?.Value, "'share'") is { } shareArray)
            foreach (var item in shareArray.Items)
            {
                if (cx.AsObject(item, "An entry of 'share'") is not { } s) continue;
                cx.CheckProperties(s, "a 'share' entry", KnownShare);
                var layerNode = cx.Required(s, "layer", "A 'share' entry");
                var fromNode = cx.Required(s, "weightsOf", "A 'share' entry");
                var layer = LayerIndex(cx, layerNode, "'layer'", layers);
                var from = LayerIndex(cx, fromNode, "'weightsOf'", layers);
                if (layer is null || from is null) continue;
                if (layer == from) { cx.Report(ProblemIds.ShareChain, $"Layer {layer} cannot share its own weights", s.Range); continue; }
                if (shareNodes.Any(x => x.Share.Layer == layer)) { cx.Report(ProblemIds.DuplicateIndex, $"Layer {layer} is given shared weights twice", layerNode!.Range); continue; }
                if (pruned.Contains(layer.Value)) cx.Report(ProblemIds.PrunedLayerUsed, $"Layer {layer} is pruned, so it cannot run with shared weights", layerNode!.Range);
                if (pruned.Contains(from.Value)) cx.Report(ProblemIds.PrunedLayerUsed, $"Layer {from} is pruned, so its weights cannot be shared", fromNode!.Range);
                var share = new LayerShare(layer.Value, from.Value);
                shareNodes.Add((share, s));
                shares.Add(share);
            }
        foreach (var (share, node) in shareNodes)
            if (shareNodes.Any(x => x.Share.Layer == share.WeightsOf))
                cx.Report(ProblemIds.ShareChain, $"Layer {share.Layer} takes the weights of layer {share.WeightsOf}, which itself takes another layer's weights; point it at the layer that owns them", node.Range);

        // order
        List<int>? order = null;
        var orderNode = obj.Find("order")?.Value;
        if (cx.AsArray(orderNode, "'order'") is { } orderArray)
        {
            order = new List<int>();
            if (orderArray.Items.Count == 0) cx.Report(ProblemIds.EmptyOrder, "'order' is empty: at least one layer must run", orderArray.Range);
            foreach (var item in orderArray.Items)
                if (LayerIndex(cx, item, "An entry of 'order'", layers) is { } l)
                {
                    if (pruned.Contains(l)) cx.Report(ProblemIds.PrunedLayerUsed, $"Layer {l} is pruned but listed in 'order'", item.Range);
                    order.Add(l);
                }
        }
        if (manifest is not null && order is null && pruned.Count >= layers && pruneNodes.Count > 0)
            cx.Report(ProblemIds.EverythingPruned, $"Every one of the {layers} layers is pruned: nothing would run", obj.Find("prune")!.Value.Range);

        var stepCount = order?.Count ?? (manifest is null ? int.MaxValue : layers - pruned.Count);

        // decodeDepth
        int? decodeDepth = null;
        if (obj.Find("decodeDepth")?.Value is { } depthNode)
        {
            decodeDepth = cx.AsInt(depthNode, "'decodeDepth'", 1, int.MaxValue, ProblemIds.DecodeDepthOutOfRange);
            if (decodeDepth is { } d && d > stepCount && stepCount > 0)
            {
                cx.Report(ProblemIds.DecodeDepthOutOfRange, $"'decodeDepth' is {d}, but the schedule has only {stepCount} steps", depthNode.Range);
                decodeDepth = null;
            }
        }
        var depth = decodeDepth ?? stepCount;

        // exits
        var exits = new List<ExitPoint>();
        if (cx.AsArray(obj.Find("exits")?.Value, "'exits'") is { } exitArray)
            foreach (var item in exitArray.Items)
            {
                if (cx.AsObject(item, "An entry of 'exits'") is not { } e) continue;
                cx.CheckProperties(e, "an 'exits' entry", KnownExit);
                var stepNode = cx.Required(e, "afterStep", "An exit");
                var step = cx.AsInt(stepNode, "'afterStep'", 0, int.MaxValue, ProblemIds.ExitAfterLastStep);
                var criterion = Enum(cx, cx.Required(e, "criterion", "An exit"), "'criterion'", Criteria);
                var thresholdNode = cx.Required(e, "threshold", "An exit");
                var threshold = cx.AsDouble(thresholdNode, "'threshold'");
                if (step is { } s && manifest is not null && s >= depth - 1)
                {
                    cx.Report(ProblemIds.ExitAfterLastStep,
                        $"An exit after step {s} can never save work: generated tokens run {depth} steps (0 to {depth - 1}), so an exit must come after step {depth - 2} or earlier",
                        stepNode!.Range);
                    step = null;
                }
                if (step is { } s2 && exits.Any(x => x.AfterStep == s2))
                {
                    cx.Report(ProblemIds.DuplicateExit, $"Two exits after step {s2}", stepNode!.Range);
                    step = null;
                }
                if (threshold is { } t && criterion == ExitCriterion.MaxProbability)
                {
                    if (t < 0) cx.Report(ProblemIds.ThresholdOutOfRange, $"A probability threshold must be between 0 and 1, found {Format(t)}", thresholdNode!.Range);
                    else if (t > 1) cx.Report(ProblemIds.ThresholdOutOfRange, $"A probability threshold above 1 ({Format(t)}) never lets a token exit here", thresholdNode!.Range, ProblemSeverity.Warning);
                }
                if (step is not null && criterion is not null && threshold is not null)
                    exits.Add(new ExitPoint(step.Value, criterion.Value, threshold.Value));
            }

        var kvFill = obj.Find("kvFill")?.Value is { } kvNode ? Enum(cx, kvNode, "'kvFill'", KvFills) ?? KvFill.Propagate : KvFill.Propagate;

        if (cx.HasErrors || manifestRef is null) return Done(null);
        return Done(new LayerPlan
        {
            Manifest = manifestRef.Value,
            Prune = prune.ToEquatableArray(),
            Share = shares.ToEquatableArray(),
            Order = order?.ToEquatableArray(),
            DecodeDepth = decodeDepth,
            Exits = exits.OrderBy(e => e.AfterStep).ToEquatableArray(),
            KvFill = kvFill,
        });

        PlanReadResult Done(LayerPlan? plan) => new(plan, problems.ToEquatableArray());
    }

    private static int? LayerIndex(JsonReadContext cx, JsonNode? node, string what, int layers) =>
        cx.AsInt(node, what, 0, layers - 1, ProblemIds.LayerOutOfRange);

    private static T? Enum<T>(JsonReadContext cx, JsonNode? node, string what, Dictionary<string, T> values) where T : struct
    {
        var s = cx.AsString(node, what);
        if (s is null) return null;
        if (values.TryGetValue(s.Value, out var v)) return v;
        cx.Report(ProblemIds.UnknownEnumValue, $"{what} must be one of {string.Join(", ", values.Keys.Select(k => $"'{k}'"))}, found '{s.Value}'", s.Range);
        return null;
    }

    private static string Format(double d) => d.ToString("R", CultureInfo.InvariantCulture);
}
