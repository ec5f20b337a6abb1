using SpecializedInfer.Engine;
using SpecializedInfer.Sampling;

namespace SpecializedInfer.Tracing;

/// <summary>
/// How a plan did on a trace's sequences: at <see cref="Positions"/> recorded positions its greedy token differed
/// from the full model's <see cref="Disagreements"/> times; <see cref="GeneratedSteps"/> steps ran in all, and
/// <see cref="ExitsPerStep"/> counts the tokens that left at each step's exit point. When the replay was told to stop
/// after a number of disagreements, <see cref="Stopped"/> says it did and the counts are those up to that point.
/// </summary>
public sealed record ReplayResult(long Positions, long Disagreements, long GeneratedSteps, long[] ExitsPerStep, bool Stopped)
{
    public double Agreement => Positions == 0 ? double.NaN : 1 - (double)Disagreements / Positions;
    public double MeanSteps => Positions == 0 ? double.NaN : (double)GeneratedSteps / Positions;
    public double ExitFraction => Positions == 0 ? double.NaN : (double)ExitsPerStep.Sum() / Positions;
}

/// <summary>
/// Replays a <see cref="TeacherForcedTrace"/> through a planned model: each sequence's prompt at full depth, then its
/// continuation token by token, as the trace fed them to the full model, comparing the plan's argmax at every recorded
/// position with the full model's. This is the teacher-forced agreement of <c>si eval</c> restricted to generated
/// tokens, measured on the plan as it runs (its KV strategy, skips and exit heads included).
/// </summary>
public static class TraceReplay
{
    public static ReplayResult Run(ILanguageModel plan, TeacherForcedTrace trace, long stopAfterDisagreements = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(trace);
        var context = trace.Sequences.Max(s => s.Prompt.Length + s.Continuation.Length - 1);
        using var session = plan.CreateSession(context);
        long positions = 0, disagreements = 0, steps = 0;
        var exits = new long[plan.Schedule.Steps.Count];
        foreach (var sequence in trace.Sequences)
        {
            session.Rewind(0);
            session.Statistics.Reset();
            session.Forward(sequence.Prompt);
            for (var i = 0; i < sequence.Positions; i++)
            {
                var token = Sampler.ArgMax(session.Forward(sequence.Continuation[i]));
                positions++;
                if (token != trace.Target(sequence.FirstPosition + i)) disagreements++;
                if (disagreements > stopAfterDisagreements) break;
            }
            steps += session.Statistics.GeneratedSteps;
            for (var s = 0; s < exits.Length; s++) exits[s] += session.Statistics.ExitsPerStep[s];
            if (disagreements > stopAfterDisagreements) return new ReplayResult(positions, disagreements, steps, exits, Stopped: true);
        }
        return new ReplayResult(positions, disagreements, steps, exits, Stopped: false);
    }
}
