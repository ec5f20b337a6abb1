using System.Globalization;
using SpecializedInfer.Engine;
using SpecializedInfer.Evaluation;
using SpecializedInfer.Learning.Calibration;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Tracing;

namespace SpecializedInfer.Learning.Search;

/// <summary>What <c>si plan</c> searches for and with what budget.</summary>
public sealed record PlanSearchOptions
{
    /// <summary>Agreement target and δ for every candidate's certification; the grid of exit strictness.</summary>
    public required CalibrationTarget Target { get; init; }

    /// <summary>The most candidates measured (quality and speed), the full model not counted.</summary>
    public int Budget { get; init; } = 40;

    /// <summary>Greedy tokens per calibration prompt the trace was made with (kept in calibration records).</summary>
    public int TokensPerPrompt { get; init; } = 128;

    /// <summary>Share of the budget kept for combined candidates (a structure that met the target plus the best exits); what they do not use goes to more single candidates.</summary>
    public double CombinedShare { get; init; } = 0.25;

    /// <summary>Cosine thresholds a skip rule is tested at, strict to loose.</summary>
    public IReadOnlyList<double> SkipThresholds { get; init; } = Enumerable.Range(0, 41).Select(j => Math.Round(1 - j * 0.0025, 6)).ToArray();
}

/// <summary>Measures one candidate's decode speed against the full model (the CLI does it with generated engines).</summary>
public interface ICandidateSpeedMeter
{
    CandidateSpeed Measure(PlanCandidate candidate, LayerPlan calibrated);
}

/// <summary>
/// Every candidate measured, the non-dominated ones (fastest first), and the fastest candidate certified to meet the
/// target (the full model when nothing faster was).
/// </summary>
public sealed record PlanSearchResult(IReadOnlyList<MeasuredCandidate> Candidates, IReadOnlyList<MeasuredCandidate> Front, MeasuredCandidate Best, IReadOnlyList<string> Notes);

/// <summary>
/// <c>si plan</c>'s search (issue 10 item 6): tries prune sets along SLEB's order, sub-layer drops, exit points ×
/// criteria (learned probes and heads included) calibrated to the target with Learn-then-Test
/// (<see cref="PlanCalibrator"/>), cosine skip rules calibrated by the same fixed-sequence test, decode depth and
/// patience; measures each on the calibration trace (teacher-forced agreement on the full model's continuations,
/// <see cref="TraceReplay"/>) and for speed with <see cref="ICandidateSpeedMeter"/>. A candidate without a threshold
/// meets the target when its disagreement count rejects "rate above 1 − target" at δ on its own (one binomial test).
/// Structures that meet the target then get the best exits added and calibrated again.
/// </summary>
/// <remarks>
/// Each certificate holds for its own candidate; picking the fastest of several certified candidates is a selection
/// the certificates do not cover, so <c>si plan</c> measures the chosen plan again on held-out prompts.
/// </remarks>
public static class PlanSearch
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <param name="weights">the model, every layer bound (the reference engine replays the trace through each candidate)</param>
    /// <param name="manifest">its manifest</param>
    /// <param name="manifestReference">the manifest as candidate plans name it (relative to where they are written)</param>
    /// <param name="trace">the full model's continuations of the calibration prompts</param>
    /// <param name="families">the candidates (<see cref="SearchSpace.Families"/>)</param>
    /// <param name="options">target, δ, budget</param>
    /// <param name="speed">times a candidate against the full model</param>
    /// <param name="model">the model file, for calibration records</param>
    /// <param name="data">the calibration data files, for calibration records</param>
    /// <param name="progress">one report per candidate measured</param>
    public static PlanSearchResult Run(LlamaWeights weights, ModelManifest manifest, string manifestReference, TeacherForcedTrace trace, IReadOnlyList<IReadOnlyList<PlanCandidate>> families,
        PlanSearchOptions options, ICandidateSpeedMeter speed, CalibrationFile model, IReadOnlyList<CalibrationFile> data, IProgress<EvaluationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(families);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(speed);
        options.Target.Validate();
        if (options.Budget < 1) throw new ArgumentOutOfRangeException($"The budget must allow at least one candidate, not {options.Budget}.", innerException: null);
        var layers = manifest.Layers;
        var notes = new List<string>();
        var measured = new List<MeasuredCandidate>();
        var done = 0;
        void Report() => progress?.Report(new EvaluationProgress("candidates", done, options.Budget + 1));

        var baseline = LayerPlan.Full(manifestReference);
        var full = new PlanCandidate("full", CandidateKind.Full, "the full model", baseline, CandidateCalibration.None);
        measured.Add(new MeasuredCandidate(full, baseline, new CandidateQuality(trace.Count, 0, layers, 0, true, ""), speed.Measure(full, baseline)));
        Report();

        var combinedBudget = (int)Math.Floor(options.Budget * options.CombinedShare);
        var queue = SearchSpace.Interleave(families).ToList();
        var baseBudget = Math.Min(queue.Count, options.Budget - combinedBudget);
        foreach (var candidate in queue.Take(baseBudget))
        {
            measured.Add(Measure(candidate));
            done++;
            Report();
        }
        // Structures that met the target on their own leave room for exits: the best exits (fastest certified) on top.
        var exits = measured.Where(m => m.Candidate.Kind == CandidateKind.Exits && m.IsPoint && m.Quality!.Certified).OrderByDescending(m => m.Speed!.Speedup).FirstOrDefault();
        var structures = measured.Where(m => m.Candidate.Kind is CandidateKind.Prune or CandidateKind.SubLayer or CandidateKind.DecodeDepth && m.IsPoint && m.Quality!.Certified)
            .OrderByDescending(m => m.Speed!.Speedup).ToList();
        List<PlanCandidate> combined = exits is null ? [] : structures.Select(s => SearchSpace.Combine(s.Candidate, exits.Candidate, layers)).OfType<PlanCandidate>().ToList();
        if (exits is null) notes.Add("No exit candidate met the target, so no structure was combined with exits.");
        else if (structures.Count == 0) notes.Add("No pruning, sub-layer drop or decode depth met the target on its own, so none was combined with exits.");
        // What combinations do not use of the budget goes to more single candidates.
        var next = baseBudget;
        foreach (var candidate in combined.Concat(queue.Skip(baseBudget)).Take(options.Budget - baseBudget))
        {
            measured.Add(Measure(candidate));
            if (candidate.Kind != CandidateKind.Combined) next++;
            done++;
            Report();
        }
        if (queue.Count > next)
            notes.Add(string.Create(Inv, $"{queue.Count - next} of {queue.Count} single candidates were not tried (--budget {options.Budget})."));

        var points = measured.Where(m => m.IsPoint).ToList();
        var front = ParetoFront.Of(points, m => m.Speed!.Speedup, m => m.Quality!.Agreement);
        var best = points.Where(m => m.Quality!.Certified).OrderByDescending(m => m.Speed!.Speedup).First();
        notes.AddRange(measured.Select(m => m.Speed?.Note).OfType<string>().Distinct());
        return new PlanSearchResult(measured, front, best, notes);

        MeasuredCandidate Measure(PlanCandidate candidate)
        {
            var (plan, quality) = candidate.Calibration switch
            {
                CandidateCalibration.ExitStrictness => CalibrateExits(candidate),
                CandidateCalibration.SkipThreshold => CalibrateSkips(candidate),
                _ => (candidate.Plan, Replay(candidate.Plan, "")),
            };
            if (plan is null) return new MeasuredCandidate(candidate, null, quality, null);
            try
            {
                return new MeasuredCandidate(candidate, plan, quality, speed.Measure(candidate, plan));
            }
            catch (PlanException e)
            {
                // One candidate the plan reader refuses costs that candidate, not the search.
                notes.Add($"{candidate.Name} was not timed: {string.Join("; ", e.Problems.Select(p => $"{p.Id} {p.Message}"))}");
                return new MeasuredCandidate(candidate, plan, quality, null);
            }
        }

        (LayerPlan?, CandidateQuality?) CalibrateExits(PlanCandidate candidate)
        {
            var result = PlanCalibrator.Calibrate(weights, candidate.Plan, manifest, trace, options.TokensPerPrompt, options.Target, model, data);
            if (result.Plan is not { } plan || result.Chosen is not { } chosen) return (null, null);
            var replay = result.Replays[chosen.Candidate];
            return (plan, new CandidateQuality(replay.Positions, replay.Disagreements, replay.MeanSteps, chosen.PValue, true,
                string.Create(Inv, $"strictness {chosen.Candidate:0.###}")));
        }

        (LayerPlan?, CandidateQuality?) CalibrateSkips(PlanCandidate candidate)
        {
            LayerPlan With(double t) => candidate.Plan with { Skip = candidate.Plan.Skip.Select(k => k with { Threshold = t }).ToArray() };
            var replays = new Dictionary<double, ReplayResult>();
            var test = FixedSequenceTest.Run(options.SkipThresholds, trace.Count, options.Target.MaxDisagreementRate, options.Target.Delta, (t, critical) =>
            {
                using var engine = new ReferenceEngine(weights, ExecutionSchedule.Resolve(With(t), manifest));
                var replay = TraceReplay.Run(engine, trace, stopAfterDisagreements: critical);
                replays[t] = replay;
                return checked((int)replay.Disagreements);
            });
            if (test.Chosen is not { } chosen) return (null, null);
            var r = replays[chosen.Candidate];
            return (With(chosen.Candidate), new CandidateQuality(r.Positions, r.Disagreements, r.MeanSteps, chosen.PValue, true,
                string.Create(Inv, $"cos ≥ {chosen.Candidate:0.####}")));
        }

        CandidateQuality Replay(LayerPlan plan, string setting)
        {
            using var engine = new ReferenceEngine(weights, ExecutionSchedule.Resolve(plan, manifest));
            var r = TraceReplay.Run(engine, trace);
            var p = BinomialTail.PValue(checked((int)r.Disagreements), checked((int)r.Positions), options.Target.MaxDisagreementRate);
            return new CandidateQuality(r.Positions, r.Disagreements, r.MeanSteps, p, p <= options.Target.Delta, setting);
        }
    }
}
