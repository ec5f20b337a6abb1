using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Planning;

/// <summary>
/// One per-sentence exit point of an encoder (the plan's <c>embeddingCosine</c> exit after step
/// <see cref="AfterStep"/>): a sentence leaves when its pooled embedding has stopped moving.
/// </summary>
/// <param name="AfterStep">the schedule step the exit point follows</param>
/// <param name="ComparedWith">the step whose pooled output it is compared with: the one before, or −1 for the
/// embedding layer's output (the state entering step 0)</param>
/// <param name="Threshold">the cosine at or above which the sentence leaves</param>
public sealed record EncoderExitPoint(int AfterStep, int ComparedWith, double Threshold);

/// <summary>
/// What an encoder plan's exits mean, for every encoder executor (docs/plans.md, "Early exit for encoders"). After a
/// step with an exit point, each sentence still running pools its token states (the model's pooling, mean or [CLS],
/// before L2 normalization) and compares them, by cosine, with its pooled states after the step before (at step 0,
/// the embedding layer's output). When the cosine is at least the threshold the sentence leaves: its embedding is the
/// pooled output of the step it left at, normalized as the model's embeddings are, which is exactly the embedding of
/// the plan cut after that step. The other sentences of the batch go on. The PABEE/state-saturation idea, on the one
/// quantity an embedding model outputs.
/// </summary>
public static class EncoderExits
{
    /// <summary>The exit points of a schedule an encoder runs (<see cref="EncoderPlanRules.Unsupported(ExecutionSchedule)"/> has accepted it), by step.</summary>
    public static IReadOnlyList<EncoderExitPoint> Of(ExecutionSchedule schedule) =>
        schedule.Exits.Select(e => new EncoderExitPoint(e.AfterStep, e.AfterStep - 1, e.Test.Threshold)).ToArray();

    /// <summary>True when step <paramref name="step"/>'s pooled output is needed: an exit point follows it or the next step.</summary>
    public static bool PoolsAfter(IReadOnlyList<EncoderExitPoint> exits, int step) => exits.Any(e => e.AfterStep == step || e.ComparedWith == step);

    /// <summary>The decision, from the single-precision cosine the executor measured (<c>ExitMeasures.Cosine</c>).</summary>
    public static bool Leaves(EncoderExitPoint exit, float cosine) => (double)cosine >= exit.Threshold;
}
