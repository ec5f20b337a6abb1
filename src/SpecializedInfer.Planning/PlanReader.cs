using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SpecializedInfer.Planning.Json;

namespace SpecializedInfer.Planning;

/// <summary>The outcome of reading a plan: the plan when it has no errors, and every problem found.</summary>
public sealed record PlanReadResult(LayerPlan? Plan, IReadOnlyList<PlanProblem> Problems)
{
    private readonly EquatableArray<PlanProblem> _problems = Problems.ToEquatableArray();

    public IReadOnlyList<PlanProblem> Problems { get => _problems; init => _problems = value.ToEquatableArray(); }
}

/// <summary>A file a plan refers to (a probe), found: its full path and text.</summary>
public sealed record SidecarFile(string Path, string Text);

/// <summary>
/// Reads a <c>NAME.plan.json</c> file and checks it against its manifest. Never throws: every mistake becomes a
/// <see cref="PlanProblem"/> at the offending value's line and column.
/// </summary>
public static class PlanReader
{
    public const string Extension = ".plan.json";

    private static readonly string[] Known = { "$schema", "manifest", "description", "prune", "share", "order", "decodeDepth", "exits", "skip", "kvFill", "speculation", "calibration", "skipAttention", "skipFeedForward", "merge", "weightType" };
    private static readonly string[] KnownMerge = { "layers" };
    private static readonly string[] KnownShare = { "layer", "weightsOf" };
    private static readonly string[] KnownExitAll = { "afterStep", "criterion", "threshold", "patience", "votes", "members", "probe", "head" };
    private static readonly string[] KnownMemberAll = { "criterion", "threshold", "patience", "probe" };
    private static readonly string[] KnownHead = { "norm", "output", "adapter" };
    private static readonly string[] KnownAdapter = { "norm", "weight", "bias" };
    private static readonly string[] KnownSkip = { "layer", "test", "threshold", "probe" };
    private static readonly string[] KnownSpeculation = { "draftSteps", "draftTokens" };
    private static readonly string[] KnownCalibration = { "method", "targetAgreement", "delta", "tokens", "disagreements", "agreement", "pValue", "strictness", "gridSteps", "tokensPerPrompt", "model", "data" };
    private static readonly string[] KnownCalibrationFile = { "file", "sha256" };

    private static readonly Dictionary<string, ExitCriterion> Criteria = new()
    {
        ["maxProbability"] = ExitCriterion.MaxProbability,
        ["margin"] = ExitCriterion.Margin,
        ["entropy"] = ExitCriterion.Entropy,
        ["stateSaturation"] = ExitCriterion.StateSaturation,
        ["patience"] = ExitCriterion.Patience,
        ["ensemble"] = ExitCriterion.Ensemble,
        ["learned"] = ExitCriterion.Learned,
        ["embeddingCosine"] = ExitCriterion.EmbeddingCosine,
    };
    private static readonly Dictionary<string, KvFill> KvFills = new()
    {
        ["propagate"] = KvFill.Propagate, ["recompute"] = KvFill.Recompute, ["lossless"] = KvFill.Lossless,
    };
    private static readonly Dictionary<string, SkipTest> SkipTests = new() { ["cosine"] = SkipTest.Cosine, ["learned"] = SkipTest.Learned };

    /// <summary>The manifest path a plan names, or null when the text does not get that far.</summary>
    public static string? ReadManifestReference(string text) =>
        InputLimits.CheckText(text) is null && JsonParser.Parse(text, out _) is JsonObject obj && obj.Find("manifest")?.Value is JsonString s ? s.Value : null;

    /// <summary>
    /// Reads the plan; with <paramref name="manifest"/> null only the plan's own structure is checked. Probe
    /// sidecars are looked up through <paramref name="readSidecar"/> (given the path as the plan writes it; null
    /// when the file does not exist); without it they are not checked and <see cref="LayerPlan.Probes"/> stays empty.
    /// </summary>
    public static PlanReadResult Read(string text, string filePath, ModelManifest? manifest, System.Func<string, SidecarFile?>? readSidecar = null)
    {
        var cx = new JsonReadContext(filePath);
        var obj = cx.ParseObject(text, "A layer plan");
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
        // merge (LaCo): every layer after a merge's first leaves the schedule, as a pruned layer does
        var merges = new List<LayerMerge>();
        var mergedInto = new Dictionary<int, int>();
        if (cx.AsArray(obj.Find("merge")?.Value, "'merge'") is { } mergeArray)
            foreach (var item in mergeArray.Items)
                if (cx.AsObject(item, "An entry of 'merge'") is { } m && ReadMerge(cx, m, layers, pruneNodes, mergedInto) is { } merge)
                {
                    merges.Add(merge);
                    foreach (var l in merge.Sources) mergedInto[l] = merge.First;
                }
        var pruned = new HashSet<int>(prune.Concat(merges.SelectMany(m => m.Absorbed)));
        // "is pruned" or "is merged into layer 2": why a layer no longer runs on its own.
        string Gone(int l) => mergedInto.TryGetValue(l, out var into) && into != l ? $"is merged into layer {into}" : "is pruned";

        // share
        var shares = new List<LayerShare>();
        var shareNodes = new List<(LayerShare Share, JsonObject Node)>();
        var sharedLayers = new HashSet<int>();
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
                if (!sharedLayers.Add(layer.Value)) { cx.Report(ProblemIds.DuplicateIndex, $"Layer {layer} is given shared weights twice", layerNode!.Range); continue; }
                if (pruned.Contains(layer.Value)) cx.Report(ProblemIds.PrunedLayerUsed, $"Layer {layer} {Gone(layer.Value)}, so it cannot run with shared weights", layerNode!.Range);
                if (pruned.Contains(from.Value)) cx.Report(ProblemIds.PrunedLayerUsed, $"Layer {from} {Gone(from.Value)}, so its weights cannot be shared", fromNode!.Range);
                if (!pruned.Contains(layer.Value) && mergedInto.ContainsKey(layer.Value))
                    cx.Report(ProblemIds.InvalidMerge, $"Layer {layer} holds a merge, so it cannot run with the weights of layer {from}", layerNode!.Range);
                var share = new LayerShare(layer.Value, from.Value);
                shareNodes.Add((share, s));
                shares.Add(share);
            }
        foreach (var (share, node) in shareNodes)
            if (sharedLayers.Contains(share.WeightsOf))
                cx.Report(ProblemIds.ShareChain, $"Layer {share.Layer} takes the weights of layer {share.WeightsOf}, which itself takes another layer's weights; point it at the layer that owns them", node.Range);

        // order
        List<int>? order = null;
        var orderNode = obj.Find("order")?.Value;
        var orderTooLong = false;
        if (cx.AsArray(orderNode, "'order'") is { } orderArray)
        {
            if (manifest is not null && orderArray.Items.Count > InputLimits.MaxSteps(layers))
            {
                // Each step keeps a KV cache as long as the context: the length of a schedule is memory.
                cx.Report(ProblemIds.LimitExceeded,
                    string.Format(CultureInfo.InvariantCulture,
                        "'order' has {0:N0} steps; a plan for a {1}-layer model may run at most {2:N0} ({3} per layer), since every step keeps its own KV cache",
                        orderArray.Items.Count, layers, InputLimits.MaxSteps(layers), InputLimits.MaxStepsPerLayer),
                    orderArray.Range);
                orderTooLong = true;
            }
            else
            {
                order = new List<int>();
                if (orderArray.Items.Count == 0) cx.Report(ProblemIds.EmptyOrder, "'order' is empty: at least one layer must run", orderArray.Range);
                foreach (var item in orderArray.Items)
                    if (LayerIndex(cx, item, "An entry of 'order'", layers) is { } l)
                    {
                        if (pruned.Contains(l)) cx.Report(ProblemIds.PrunedLayerUsed, $"Layer {l} {Gone(l)} but listed in 'order'", item.Range);
                        order.Add(l);
                    }
            }
        }
        // Step-dependent checks need the schedule's length: known once the manifest is, unless 'order' was refused.
        var stepsKnown = manifest is not null && !orderTooLong;
        if (stepsKnown && order is null && pruned.Count >= layers && pruneNodes.Count > 0)
            cx.Report(ProblemIds.EverythingPruned, $"Every one of the {layers} layers is pruned: nothing would run", obj.Find("prune")!.Value.Range);

        var stepCount = order?.Count ?? (stepsKnown ? layers - pruned.Count : int.MaxValue);

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
        var exitSteps = new HashSet<int>();
        var patienceNodes = new List<(int Step, int Patience, JsonNode Node)>();
        var probeNodes = new List<(string Reference, JsonString Node)>();
        if (cx.AsArray(obj.Find("exits")?.Value, "'exits'") is { } exitArray)
            foreach (var item in exitArray.Items)
            {
                if (cx.AsObject(item, "An entry of 'exits'") is not { } e) continue;
                var stepNode = cx.Required(e, "afterStep", "An exit");
                var step = cx.AsInt(stepNode, "'afterStep'", 0, int.MaxValue, ProblemIds.ExitAfterLastStep);
                var test = ReadTest(cx, e, "an 'exits' entry", isMember: false, step ?? -1, patienceNodes, probeNodes, manifest?.Architecture);
                ExitHead? head = null;
                if (cx.AsObject(e.Find("head")?.Value, "'head'") is { } headNode)
                {
                    cx.CheckProperties(headNode, "an exit 'head'", KnownHead);
                    var norm = cx.AsString(cx.Required(headNode, "norm", "An exit head"), "'norm'");
                    var output = cx.AsString(cx.Required(headNode, "output", "An exit head"), "'output'");
                    ExitAdapter? adapter = null;
                    var adapterOk = true;
                    if (cx.AsObject(headNode.Find("adapter")?.Value, "'adapter'") is { } adapterNode)
                    {
                        cx.CheckProperties(adapterNode, "an exit head's 'adapter'", KnownAdapter);
                        var adapterNorm = cx.AsString(cx.Required(adapterNode, "norm", "An exit head's adapter"), "'norm'");
                        var weight = cx.AsString(cx.Required(adapterNode, "weight", "An exit head's adapter"), "'weight'");
                        var bias = adapterNode.Find("bias") is { } biasNode ? cx.AsString(biasNode.Value, "'bias'") : null;
                        adapterOk = adapterNorm is not null && weight is not null && (adapterNode.Find("bias") is null || bias is not null);
                        if (adapterOk) adapter = new ExitAdapter(adapterNorm!.Value, weight!.Value, bias?.Value);
                    }
                    if (norm is not null && output is not null && adapterOk) head = new ExitHead(norm.Value, output.Value, adapter);
                }
                if (step is { } s && manifest is not null && s >= depth - 1)
                {
                    cx.Report(ProblemIds.ExitAfterLastStep,
                        $"An exit after step {s} can never save work: {(manifest.Architecture == "bert" ? "sentences" : "generated tokens")} run {depth} steps (0 to {depth - 1}), so an exit must come after step {depth - 2} or earlier",
                        stepNode!.Range);
                    step = null;
                }
                if (step is { } s2 && exitSteps.Contains(s2))
                {
                    cx.Report(ProblemIds.DuplicateExit, $"Two exits after step {s2}", stepNode!.Range);
                    step = null;
                }
                if (step is not null && test is not null && exitSteps.Add(step.Value))
                    exits.Add(new ExitPoint(step.Value, test, head));
            }
        exits.Sort((a, b) => a.AfterStep.CompareTo(b.AfterStep));
        // Exit points with a head up to and including each exit's step, counted once for every patience test.
        var headsUpTo = new Dictionary<int, int>();
        var headCount = 0;
        foreach (var x in exits)
        {
            if (x.NeedsHead) headCount++;
            headsUpTo[x.AfterStep] = headCount;
        }
        foreach (var (pStep, patience, node) in patienceNodes)
        {
            if (pStep < 0 || !headsUpTo.TryGetValue(pStep, out var heads)) continue;
            if (patience > heads)
                cx.Report(ProblemIds.PatienceTooLong,
                    $"Patience {patience} needs the same argmax at {patience} exit points with a head, but only {heads} exit point{(heads == 1 ? "" : "s")} up to step {pStep} compute{(heads == 1 ? "s" : "")} one; this exit could never fire",
                    node.Range);
        }

        // skip
        var skips = new List<SkipRule>();
        var skippable = new HashSet<int>();
        Dictionary<int, List<int>>? decodedStepsByLayer = null;
        if (cx.AsArray(obj.Find("skip")?.Value, "'skip'") is { } skipArray)
            foreach (var item in skipArray.Items)
            {
                if (cx.AsObject(item, "An entry of 'skip'") is not { } k) continue;
                cx.CheckProperties(k, "a 'skip' entry", KnownSkip);
                var layerNode = cx.Required(k, "layer", "A 'skip' entry");
                var layer = LayerIndex(cx, layerNode, "'layer'", layers);
                var kind = Enum(cx, cx.Required(k, "test", "A 'skip' entry"), "'test'", SkipTests);
                var thresholdNode = cx.Required(k, "threshold", "A 'skip' entry");
                var threshold = cx.AsDouble(thresholdNode, "'threshold'");
                string? probe = null;
                var probeNode = k.Find("probe")?.Value;
                if (kind == SkipTest.Learned)
                {
                    if (cx.AsString(cx.Required(k, "probe", "A learned skip test"), "'probe'") is { } ps) { probe = ps.Value; probeNodes.Add((ps.Value, ps)); }
                }
                else if (probeNode is not null)
                    cx.Report(ProblemIds.UnknownProperty, "'probe' applies only to the 'learned' skip test", k.Find("probe")!.NameRange);
                if (threshold is { } t && kind is { } kk)
                    CheckThreshold(cx, t, thresholdNode!, kk == SkipTest.Cosine ? -1 : 0, 1, "skips");
                if (layer is not { } l) continue;
                if (pruned.Contains(l)) { cx.Report(ProblemIds.PrunedLayerUsed, $"Layer {l} {Gone(l)}, so it cannot be skippable", layerNode!.Range); continue; }
                if (skippable.Contains(l)) { cx.Report(ProblemIds.DuplicateIndex, $"Layer {l} is made skippable twice", layerNode!.Range); continue; }
                if (stepsKnown)
                {
                    decodedStepsByLayer ??= DecodedSteps(order, layers, pruned, depth).GroupBy(x => x.Layer).ToDictionary(g => g.Key, g => g.Select(x => x.Index).ToList());
                    var decodedSteps = decodedStepsByLayer.TryGetValue(l, out var found) ? found : new List<int>();
                    if (decodedSteps.Count == 0)
                    {
                        cx.Report(ProblemIds.InvalidSkipRule, $"Layer {l} never runs for a generated token (the first {depth} steps), so skipping it can never apply", layerNode!.Range);
                        continue;
                    }
                    if (kind == SkipTest.Cosine && decodedSteps.Contains(0))
                    {
                        cx.Report(ProblemIds.InvalidSkipRule, $"Layer {l} runs at step 0, where the cosine test has no previous step to compare with; use a learned probe there", layerNode!.Range);
                        continue;
                    }
                }
                if (kind is { } skipKind && threshold is { } th && skippable.Add(l))
                    skips.Add(new SkipRule(l, skipKind, th, probe));
            }

        // skipAttention, skipFeedForward (sub-layer pruning)
        var scheduled = stepsKnown ? new HashSet<int>(ExecutionSchedule.StepLayers(order, pruned, layers)) : null;
        var skipAttention = ReadSubLayers(cx, obj, "skipAttention", "attention", layers, pruned, Gone, scheduled, null);
        var skipFeedForward = ReadSubLayers(cx, obj, "skipFeedForward", "feed-forward", layers, pruned, Gone, scheduled, new HashSet<int>(skipAttention));

        // kvFill and speculation
        var kvNode = obj.Find("kvFill")?.Value;
        var kvFill = kvNode is not null ? Enum(cx, kvNode, "'kvFill'", KvFills) ?? KvFill.Propagate : KvFill.Propagate;
        Speculation? speculation = null;
        var specNode = obj.Find("speculation");
        if (cx.AsObject(specNode?.Value, "'speculation'") is { } spec)
        {
            cx.CheckProperties(spec, "'speculation'", KnownSpeculation);
            var draftStepsNode = cx.Required(spec, "draftSteps", "'speculation'");
            var draftSteps = cx.AsInt(draftStepsNode, "'draftSteps'", 1, int.MaxValue, ProblemIds.SpeculationMismatch);
            var draftTokens = cx.AsInt(cx.Required(spec, "draftTokens", "'speculation'"), "'draftTokens'", 1, Speculation.MaxDraftTokens, ProblemIds.SpeculationMismatch);
            if (draftSteps is { } ds && manifest is not null && ds >= stepCount)
            {
                cx.Report(ProblemIds.SpeculationMismatch, $"'draftSteps' is {ds}, but drafting must run fewer steps than the schedule's {stepCount}", draftStepsNode!.Range);
                draftSteps = null;
            }
            if (kvFill != KvFill.Lossless)
                cx.Report(ProblemIds.SpeculationMismatch, "'speculation' takes effect only with \"kvFill\": \"lossless\"", specNode!.NameRange);
            if (draftSteps is not null && draftTokens is not null) speculation = new Speculation(draftSteps.Value, draftTokens.Value);
            if (speculation is not null && kvFill == KvFill.Lossless)
            {
                var exitNodes = ExitNodes(obj.Find("exits")?.Value);
                foreach (var x in exits.Where(x => x.AfterStep != speculation.DraftSteps - 1))
                    cx.Report(ProblemIds.SpeculationMismatch,
                        $"In lossless mode the only exit point allowed is the draft's, after step {speculation.DraftSteps - 1}; found one after step {x.AfterStep}",
                        exitNodes.TryGetValue(x.AfterStep, out var at) ? at : TextRange.Empty);
                // Generated engines decide a draft's confidence from its logits alone (the draft head's: the model's or the exit's own).
                foreach (var x in exits.Where(x => x.AfterStep == speculation.DraftSteps - 1
                             && x.Criterion is not (ExitCriterion.MaxProbability or ExitCriterion.Margin or ExitCriterion.Entropy)))
                    cx.Report(ProblemIds.SpeculationMismatch,
                        $"A draft's exit test must be maxProbability, margin or entropy (read from the draft's logits); found {x.Test.Describe()}",
                        exitNodes.TryGetValue(x.AfterStep, out var at) ? at : TextRange.Empty);
            }
        }
        if (kvFill == KvFill.Lossless && kvNode is not null)
        {
            if (specNode is null)
                cx.Report(ProblemIds.SpeculationMismatch, "\"kvFill\": \"lossless\" needs a 'speculation' object with 'draftSteps' and 'draftTokens'", kvNode.Range);
            if (decodeDepth is not null && decodeDepth != stepCount)
                cx.Report(ProblemIds.SpeculationMismatch, "In lossless mode generated tokens run the whole schedule; remove 'decodeDepth'", obj.Find("decodeDepth")!.NameRange);
            if (skips.Count > 0 || obj.Find("skip") is { Value: JsonArray { Items.Count: > 0 } })
                cx.Report(ProblemIds.SpeculationMismatch, "Lossless mode does not combine with skippable layers; drafting already runs the first steps only", obj.Find("skip")!.NameRange);
        }

        var calibration = ReadCalibration(cx, obj.Find("calibration")?.Value);

        // The weight type a plan was made for (its thresholds were calibrated on that model's logits) must be the
        // one the manifest describes, so a plan for a Q8_0 file never runs on, or generates an engine for, another.
        var weightType = ManifestReader.ReadWeightType(cx, obj);
        if (weightType is not null && manifest is not null && weightType != manifest.WeightType)
            cx.Report(ProblemIds.WeightTypeMismatch, manifest.WeightType is null
                ? $"The plan is for {weightType} weights, but its manifest '{manifestRef?.Value}' names no weight type (si manifest writes it)"
                : $"The plan is for {weightType} weights, but its manifest '{manifestRef?.Value}' describes {manifest.WeightType} weights",
                obj.Find("weightType")!.Value.Range);

        // sidecar probes, each read once
        var probes = new List<LinearProbe>();
        foreach (var group in probeNodes.GroupBy(p => p.Reference))
        {
            if (readSidecar is null) break;
            var file = readSidecar(group.Key);
            if (file is null)
            {
                foreach (var (reference, node) in group)
                    cx.Report(ProblemIds.ProbeNotFound, $"The probe file '{reference}' was not found{(reference.EndsWith(ProbeReader.Extension) ? "" : $" (probe files end in {ProbeReader.Extension} and are AdditionalFiles)")}", node.Range);
                continue;
            }
            var probe = ProbeReader.Read(file.Text, group.Key, file.Path, manifest?.Dim ?? 0);
            cx.Include(probe.Problems);
            if (probe.Probe is not null) probes.Add(probe.Probe);
            else if (!probe.Problems.Any(p => p.Severity == ProblemSeverity.Error))
                cx.Report(ProblemIds.InvalidProbe, $"The probe file '{group.Key}' could not be read", group.First().Node.Range);
        }

        if (cx.HasErrors || manifestRef is null) return Done(null);
        return Done(new LayerPlan
        {
            Manifest = manifestRef.Value,
            Prune = prune.ToEquatableArray(),
            Share = shares.ToEquatableArray(),
            Order = order?.ToEquatableArray(),
            DecodeDepth = decodeDepth,
            Exits = exits.ToEquatableArray(),
            Skip = skips.OrderBy(k => k.Layer).ToEquatableArray(),
            KvFill = kvFill,
            Speculation = kvFill == KvFill.Lossless ? speculation : null,
            Probes = probes.OrderBy(p => p.File, System.StringComparer.Ordinal).ToEquatableArray(),
            Calibration = calibration,
            WeightType = weightType,
            SkipAttention = skipAttention.OrderBy(l => l).ToEquatableArray(),
            SkipFeedForward = skipFeedForward.OrderBy(l => l).ToEquatableArray(),
            Merge = merges.OrderBy(m => m.First).ToEquatableArray(),
        });

        PlanReadResult Done(LayerPlan? plan) => new(plan, cx.Problems());
    }

    /// <summary>
    /// The calibration record (<see cref="PlanCalibration"/>): every property present, each in its range, and the
    /// numbers consistent with each other (the agreement is 1 − disagreements / tokens; a p-value above δ certified
    /// nothing). Executors never read it.
    /// </summary>
    private static PlanCalibration? ReadCalibration(JsonReadContext cx, JsonNode? node)
    {
        if (cx.AsObject(node, "'calibration'") is not { } c) return null;
        cx.CheckProperties(c, "'calibration'", KnownCalibration);
        const string what = "The calibration record";
        var methodNode = cx.Required(c, "method", what);
        var method = cx.AsString(methodNode, "'method'");
        if (method is not null && method.Value != PlanCalibration.LearnThenTest)
            cx.Report(ProblemIds.UnknownEnumValue, $"'method' must be '{PlanCalibration.LearnThenTest}', found '{JsonReadContext.Echo(method.Value)}'", method.Range);
        var target = Fraction(cx, cx.Required(c, "targetAgreement", what), "'targetAgreement'", open: true);
        var delta = Fraction(cx, cx.Required(c, "delta", what), "'delta'", open: true);
        var tokens = cx.AsInt(cx.Required(c, "tokens", what), "'tokens'", 1, int.MaxValue, ProblemIds.InvalidCalibration);
        var disagreementsNode = cx.Required(c, "disagreements", what);
        var disagreements = cx.AsInt(disagreementsNode, "'disagreements'", 0, int.MaxValue, ProblemIds.InvalidCalibration);
        var agreementNode = cx.Required(c, "agreement", what);
        var agreement = Fraction(cx, agreementNode, "'agreement'", open: false);
        var pNode = cx.Required(c, "pValue", what);
        var p = Fraction(cx, pNode, "'pValue'", open: false);
        var strictness = Fraction(cx, cx.Required(c, "strictness", what), "'strictness'", open: false);
        var grid = cx.AsInt(cx.Required(c, "gridSteps", what), "'gridSteps'", 1, int.MaxValue, ProblemIds.InvalidCalibration);
        var perPrompt = cx.AsInt(cx.Required(c, "tokensPerPrompt", what), "'tokensPerPrompt'", 1, int.MaxValue, ProblemIds.InvalidCalibration);
        var model = ReadCalibrationFile(cx, cx.Required(c, "model", what), "'model'");
        var data = new List<CalibrationFile>();
        if (cx.AsArray(cx.Required(c, "data", what), "'data'") is { } dataArray)
        {
            if (dataArray.Items.Count == 0) cx.Report(ProblemIds.InvalidCalibration, "'data' must name at least one file the calibration read", dataArray.Range);
            foreach (var item in dataArray.Items)
                if (ReadCalibrationFile(cx, item, "An entry of 'data'") is { } f) data.Add(f);
        }

        if (tokens is { } n && disagreements is { } k)
        {
            if (k > n) cx.Report(ProblemIds.InvalidCalibration, $"'disagreements' ({k}) cannot exceed 'tokens' ({n})", disagreementsNode!.Range);
            else if (agreement is { } a && System.Math.Abs(a - (1 - (double)k / n)) > 1e-9)
                cx.Report(ProblemIds.InvalidCalibration, $"'agreement' must be 1 − disagreements / tokens = {Format(1 - (double)k / n)}, found {Format(a)}", agreementNode!.Range);
        }
        if (p is { } pv && delta is { } d && pv > d)
            cx.Report(ProblemIds.InvalidCalibration, $"A p-value of {Format(pv)} is above delta {Format(d)}: such a calibration certified nothing", pNode!.Range);

        if (method is null || target is null || delta is null || tokens is null || disagreements is null || agreement is null
            || p is null || strictness is null || grid is null || perPrompt is null || model is null || data.Count == 0 || cx.HasErrors)
            return null;
        return new PlanCalibration(method.Value, target.Value, delta.Value, tokens.Value, disagreements.Value, agreement.Value,
            p.Value, strictness.Value, grid.Value, perPrompt.Value, model, data.ToEquatableArray());
    }

    /// <summary>A number in [0, 1], or in (0, 1) when <paramref name="open"/>.</summary>
    private static double? Fraction(JsonReadContext cx, JsonNode? node, string what, bool open)
    {
        if (cx.AsDouble(node, what) is not { } v) return null;
        if (open ? v > 0 && v < 1 : v >= 0 && v <= 1) return v;
        cx.Report(ProblemIds.InvalidCalibration, $"{what} must be {(open ? "above 0 and below 1" : "between 0 and 1")}, found {Format(v)}", node!.Range);
        return null;
    }

    private static CalibrationFile? ReadCalibrationFile(JsonReadContext cx, JsonNode? node, string what)
    {
        if (cx.AsObject(node, what) is not { } o) return null;
        cx.CheckProperties(o, "a calibration file entry", KnownCalibrationFile);
        var file = cx.AsString(cx.Required(o, "file", "A calibration file entry"), "'file'");
        var sha = cx.AsString(cx.Required(o, "sha256", "A calibration file entry"), "'sha256'");
        if (sha is not null && (sha.Value.Length != 64 || !sha.Value.All(ch => ch is >= '0' and <= '9' or >= 'a' and <= 'f')))
        {
            cx.Report(ProblemIds.InvalidCalibration, $"'sha256' must be 64 lowercase hexadecimal digits, found '{JsonReadContext.Echo(sha.Value)}'", sha.Range);
            return null;
        }
        return file is null || sha is null ? null : new CalibrationFile(file.Value, sha.Value);
    }

    /// <summary>
    /// One merge entry, <c>{ "layers": [2, 3] }</c>: at least two consecutive ascending layers, none pruned or in
    /// another merge. Null (with the problem reported) when it is not one.
    /// </summary>
    private static LayerMerge? ReadMerge(JsonReadContext cx, JsonObject m, int layers, Dictionary<int, JsonNode> pruneNodes, Dictionary<int, int> mergedInto)
    {
        cx.CheckProperties(m, "a 'merge' entry", KnownMerge);
        if (cx.AsArray(cx.Required(m, "layers", "A 'merge' entry"), "'layers'") is not { } list) return null;
        var found = new List<int>();
        var ok = true;
        foreach (var item in list.Items)
        {
            if (LayerIndex(cx, item, "An entry of 'layers'", layers) is not { } l) { ok = false; continue; }
            if (found.Count > 0 && l != found[found.Count - 1] + 1)
            {
                cx.Report(ProblemIds.InvalidMerge, $"The layers of a merge must be consecutive and ascending: expected {found[found.Count - 1] + 1} after {found[found.Count - 1]}, found {l}", item.Range);
                ok = false;
            }
            else if (pruneNodes.ContainsKey(l))
            {
                cx.Report(ProblemIds.PrunedLayerUsed, $"Layer {l} is pruned, so it cannot be merged", item.Range);
                ok = false;
            }
            else if (mergedInto.TryGetValue(l, out var other))
            {
                cx.Report(ProblemIds.InvalidMerge, $"Layer {l} is already merged into layer {other}; merges must not overlap", item.Range);
                ok = false;
            }
            found.Add(l);
        }
        if (ok && found.Count < 2)
        {
            cx.Report(ProblemIds.InvalidMerge, $"A merge collapses at least two consecutive layers into the first; found {found.Count}", list.Range);
            ok = false;
        }
        return ok ? new LayerMerge(found[0], found.Count) : null;
    }

    /// <summary>
    /// <c>skipAttention</c> or <c>skipFeedForward</c>: layers whose steps run without that sub-layer. A layer must run
    /// somewhere in the schedule (<paramref name="scheduled"/>, when known), and must not lose both halves
    /// (<paramref name="otherHalf"/>: the layers already without attention), which would leave a step that does nothing.
    /// </summary>
    private static List<int> ReadSubLayers(JsonReadContext cx, JsonObject obj, string property, string half, int layers,
        HashSet<int> pruned, System.Func<int, string> gone, HashSet<int>? scheduled, HashSet<int>? otherHalf)
    {
        var result = new List<int>();
        var listed = new HashSet<int>(); // a set: a hostile list of a million entries stays linear
        if (cx.AsArray(obj.Find(property)?.Value, $"'{property}'") is not { } array) return result;
        foreach (var item in array.Items)
        {
            if (LayerIndex(cx, item, $"An entry of '{property}'", layers) is not { } l) continue;
            if (!listed.Add(l)) cx.Report(ProblemIds.DuplicateIndex, $"Layer {l} is listed twice in '{property}'", item.Range);
            else if (pruned.Contains(l)) cx.Report(ProblemIds.PrunedLayerUsed, $"Layer {l} {gone(l)}, so its {half} cannot be dropped", item.Range);
            else if (scheduled is not null && !scheduled.Contains(l))
                cx.Report(ProblemIds.InvalidSubLayerPruning, $"Layer {l} never runs in the schedule ('order' leaves it out), so dropping its {half} changes nothing", item.Range);
            else if (otherHalf is not null && otherHalf.Contains(l))
                cx.Report(ProblemIds.InvalidSubLayerPruning, $"Layer {l} would drop both its attention and its feed-forward, leaving steps that do nothing; prune it instead (or leave it out of 'order')", item.Range);
            else result.Add(l);
        }
        return result;
    }

    /// <summary>Reads one exit test (an exit entry, or a member of an ensemble).</summary>
    private static ExitTest? ReadTest(JsonReadContext cx, JsonObject e, string what, bool isMember, int step,
        List<(int Step, int Patience, JsonNode Node)> patienceNodes, List<(string Reference, JsonString Node)> probeNodes, string? architecture)
    {
        var criterion = Enum(cx, cx.Required(e, "criterion", isMember ? "An ensemble member" : "An exit"), "'criterion'", Criteria);
        if (criterion is null)
        {
            cx.CheckProperties(e, what, isMember ? KnownMemberAll : KnownExitAll);
            return null;
        }
        var c = criterion.Value;
        var uses = c switch
        {
            ExitCriterion.Patience => new[] { "criterion", "patience" },
            ExitCriterion.Ensemble => new[] { "criterion", "votes", "members" },
            ExitCriterion.Learned => new[] { "criterion", "threshold", "probe" },
            _ => new[] { "criterion", "threshold" },
        };
        // An embedding-cosine exit decides on pooled sentence embeddings and leaves with one: no head to name.
        var known = isMember ? uses : uses.Concat(c == ExitCriterion.EmbeddingCosine ? new[] { "afterStep" } : new[] { "afterStep", "head" }).ToArray();
        foreach (var p in e.Properties)
            if (!known.Contains(p.Name) && (isMember ? KnownMemberAll : KnownExitAll).Contains(p.Name))
                cx.Report(ProblemIds.UnknownProperty, $"'{p.Name}' does not apply to the criterion '{CriterionName(c)}' (it uses {string.Join(", ", uses.Skip(1).Select(u => $"'{u}'"))})", p.NameRange);
        cx.CheckProperties(e, what, isMember ? KnownMemberAll : KnownExitAll);

        switch (c)
        {
            case ExitCriterion.Patience:
            {
                var node = cx.Required(e, "patience", "A patience exit");
                var k = cx.AsInt(node, "'patience'", 1, int.MaxValue, ProblemIds.PatienceTooLong);
                if (k is null) return null;
                patienceNodes.Add((step, k.Value, node!));
                return ExitTest.OfPatience(k.Value);
            }
            case ExitCriterion.Ensemble:
            {
                if (isMember)
                {
                    cx.Report(ProblemIds.EnsembleVotes, "An ensemble member cannot itself be an ensemble", e.Find("criterion")!.Value.Range);
                    return null;
                }
                var votesNode = cx.Required(e, "votes", "An ensemble");
                var votes = cx.AsInt(votesNode, "'votes'", 1, int.MaxValue, ProblemIds.EnsembleVotes);
                var membersNode = cx.AsArray(cx.Required(e, "members", "An ensemble"), "'members'");
                if (membersNode is null) return null;
                var members = new List<ExitTest>();
                var ok = true;
                foreach (var m in membersNode.Items)
                {
                    if (cx.AsObject(m, "An ensemble member") is not { } mo) { ok = false; continue; }
                    if (ReadTest(cx, mo, "an ensemble member", isMember: true, step, patienceNodes, probeNodes, architecture) is { } t) members.Add(t);
                    else ok = false;
                }
                if (membersNode.Items.Count == 0)
                {
                    cx.Report(ProblemIds.EnsembleVotes, "An ensemble needs at least one member", membersNode.Range);
                    return null;
                }
                if (votes is { } v && v > membersNode.Items.Count)
                {
                    cx.Report(ProblemIds.EnsembleVotes, $"The ensemble needs {v} votes but has only {membersNode.Items.Count} member{(membersNode.Items.Count == 1 ? "" : "s")}", votesNode!.Range);
                    return null;
                }
                return ok && votes is not null ? ExitTest.OfEnsemble(votes.Value, members.ToArray()) : null;
            }
            default:
            {
                var thresholdNode = cx.Required(e, "threshold", "An exit test");
                var threshold = cx.AsDouble(thresholdNode, "'threshold'");
                string? probe = null;
                if (c == ExitCriterion.Learned)
                {
                    if (cx.AsString(cx.Required(e, "probe", "A learned exit"), "'probe'") is { } ps) { probe = ps.Value; probeNodes.Add((ps.Value, ps)); }
                    else return null;
                }
                if (threshold is not { } t) return null;
                switch (c)
                {
                    case ExitCriterion.Entropy:
                        if (t < 0) cx.Report(ProblemIds.ThresholdOutOfRange, $"An entropy is never below 0, so the threshold {Format(t)} never lets a token exit here", thresholdNode!.Range, ProblemSeverity.Warning);
                        break;
                    case ExitCriterion.StateSaturation:
                        CheckThreshold(cx, t, thresholdNode!, -1, 1, "exits");
                        break;
                    case ExitCriterion.EmbeddingCosine:
                        CheckThreshold(cx, t, thresholdNode!, -1, 1, "exits");
                        if (architecture is not null && architecture != "bert")
                        {
                            cx.Report(ProblemIds.UnsupportedArchitecture,
                                $"The criterion 'embeddingCosine' compares pooled sentence embeddings and applies to encoders (bert manifests) only; this manifest describes a '{architecture}' model",
                                e.Find("criterion")!.Value.Range);
                            return null;
                        }
                        break;
                    default:
                        CheckThreshold(cx, t, thresholdNode!, 0, 1, "exits");
                        break;
                }
                return new ExitTest(c, t, 0, 0, EquatableArray<ExitTest>.Empty, probe);
            }
        }
    }

    /// <summary>
    /// A "≥ threshold" test: below <paramref name="low"/> is meaningless (error); above <paramref name="high"/> disables
    /// the exit or skip, which is a useful control in experiments (warning).
    /// </summary>
    private static void CheckThreshold(JsonReadContext cx, double t, JsonNode node, double low, double high, string what)
    {
        if (t < low) cx.Report(ProblemIds.ThresholdOutOfRange, $"This threshold must be between {Format(low)} and {Format(high)}, found {Format(t)}", node.Range);
        else if (t > high) cx.Report(ProblemIds.ThresholdOutOfRange, $"A threshold above {Format(high)} ({Format(t)}) never lets a token pass here, which disables these {what}", node.Range, ProblemSeverity.Warning);
    }

    /// <summary>The steps generated tokens run, as <see cref="ExecutionSchedule.Resolve(LayerPlan, int)"/> lays them out.</summary>
    private static IEnumerable<(int Index, int Layer)> DecodedSteps(List<int>? order, int layers, HashSet<int> pruned, int depth) =>
        ExecutionSchedule.StepLayers(order, pruned, layers).Take(depth).Select((l, i) => (i, l));

    /// <summary>Where each exit's 'afterStep' is written (the first, for a step written twice), by step.</summary>
    private static Dictionary<int, TextRange> ExitNodes(JsonNode? exitArrayNode)
    {
        var result = new Dictionary<int, TextRange>();
        if (exitArrayNode is not JsonArray a) return result;
        foreach (var o in a.Items.OfType<JsonObject>())
            if (o.Find("afterStep")?.Value is JsonNumber { IsInteger: true } n && n.Value >= 0 && n.Value <= int.MaxValue && !result.ContainsKey((int)n.Value))
                result[(int)n.Value] = n.Range;
        return result;
    }

    /// <summary>The criterion's name as a plan writes it ("maxProbability").</summary>
    internal static string CriterionName(ExitCriterion c) => Criteria.First(kv => kv.Value == c).Key;

    /// <summary>The strategy's name as a plan writes it ("propagate").</summary>
    internal static string KvFillName(KvFill f) => KvFills.First(kv => kv.Value == f).Key;

    /// <summary>The skip test's name as a plan writes it ("cosine").</summary>
    internal static string SkipTestName(SkipTest t) => SkipTests.First(kv => kv.Value == t).Key;

    private static int? LayerIndex(JsonReadContext cx, JsonNode? node, string what, int layers) =>
        cx.AsInt(node, what, 0, layers - 1, ProblemIds.LayerOutOfRange);

    private static T? Enum<T>(JsonReadContext cx, JsonNode? node, string what, Dictionary<string, T> values) where T : struct
    {
        var s = cx.AsString(node, what);
        if (s is null) return null;
        if (values.TryGetValue(s.Value, out var v)) return v;
        cx.Report(ProblemIds.UnknownEnumValue, $"{what} must be one of {string.Join(", ", values.Keys.Select(k => $"'{k}'"))}, found '{JsonReadContext.Echo(s.Value)}'", s.Range);
        return null;
    }

    private static string Format(double d) => d.ToString("R", CultureInfo.InvariantCulture);
}
