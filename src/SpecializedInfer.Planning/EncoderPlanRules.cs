using System.Linq;

namespace SpecializedInfer.Planning;

/// <summary>
/// Which plans an encoder runs: static depth (pruned layers, an explicit order such as the first k layers, shared
/// weights, dropped sub-layers) and per-sentence exits with the <c>embeddingCosine</c> criterion
/// (<see cref="EncoderExits"/>). Everything that decides per generated token (the other exit criteria, which read a
/// language-model head or generated tokens, skips, a decode depth, KV filling, speculation) has nothing to act on in
/// an encoder that reads a sentence once; merged layers are not implemented for encoders yet.
/// </summary>
public static class EncoderPlanRules
{
    /// <summary>Why an encoder cannot run <paramref name="schedule"/>, as one sentence naming the plan property; null when it can.</summary>
    public static string? Unsupported(ExecutionSchedule schedule) => Unsupported(schedule, out _);

    /// <summary>As <see cref="Unsupported(ExecutionSchedule)"/>, with the plan property at fault (for a diagnostic's location).</summary>
    public static string? Unsupported(ExecutionSchedule schedule, out string property)
    {
        property = "exits";
        if (schedule.Exits.FirstOrDefault(e => e.Criterion != ExitCriterion.EmbeddingCosine) is { } exit)
            return $"An encoder has no generated tokens to exit early and no head to judge them: 'exits' with the criterion '{PlanReader.CriterionName(exit.Criterion)}' do not apply to encoders; a sentence leaves early with 'embeddingCosine' (its pooled embedding stopped moving).";
        property = "skip";
        if (schedule.Steps.Any(s => s.Skip is not null)) return "An encoder has no generated tokens to skip layers for: 'skip' does not apply to encoders.";
        property = "decodeDepth";
        if (schedule.DecodeDepth != schedule.Steps.Count) return "An encoder has no generated tokens: 'decodeDepth' does not apply to encoders.";
        property = schedule.Speculation is not null ? "speculation" : "kvFill";
        if (schedule.Speculation is not null || schedule.KvFill != KvFill.Propagate) return "An encoder has no KV cache: 'kvFill' and speculation do not apply to encoders.";
        property = "merge";
        if (schedule.Merges.Count > 0) return "Encoders do not merge layers ('merge') yet.";
        property = "";
        return null;
    }
}
