using SpecializedInfer.Planning;

namespace SpecializedInfer.Engine;

/// <summary>
/// Evaluates a plan's exit tests and skip rules exactly as docs/plans.md defines them, taking every number from
/// <see cref="ExitMeasures"/> so the reference engine and generated engines agree token for token. Measures are
/// single precision; each is compared with the threshold as written (a double). Holds one vocabulary-sized scratch
/// buffer, so one decider serves one session (one thread) and never allocates per token.
/// </summary>
public sealed class ExitDecider
{
    private readonly float[] _scratch;
    private readonly float _normEps;
    private readonly Dictionary<string, (float[] Weights, float Bias)> _probes = new(StringComparer.Ordinal);

    /// <param name="vocabSize">logits per token (the scratch size)</param>
    /// <param name="normEps">the model's RMSNorm epsilon, which probes normalize with</param>
    /// <param name="tests">every exit test the decider will see (their probes are resolved now)</param>
    /// <param name="skips">every skip rule the decider will see</param>
    /// <param name="probe">looks up a probe file named by a learned test (e.g. <see cref="ExecutionSchedule.Probe"/>)</param>
    public ExitDecider(int vocabSize, float normEps, IEnumerable<ExitTest> tests, IEnumerable<SkipRule> skips, Func<string, LinearProbe> probe)
    {
        _scratch = new float[vocabSize];
        _normEps = normEps;
        // Resolved up front so a missing sidecar fails at load, not at the first token that reaches the test.
        foreach (var file in tests.SelectMany(t => t.ProbeFiles).Concat(skips.Where(s => s.Test == SkipTest.Learned).Select(s => s.Probe!)))
            if (!_probes.ContainsKey(file))
            {
                var p = probe(file);
                _probes[file] = (p.Weights.ToArray(), p.Bias);
            }
    }

    /// <summary>A decider for every exit test and skip rule of <paramref name="schedule"/>.</summary>
    public static ExitDecider For(ExecutionSchedule schedule, int vocabSize, float normEps) => new(
        vocabSize, normEps,
        schedule.Exits.Select(e => e.Test),
        schedule.Steps.Where(s => s.Skip is not null).Select(s => s.Skip!),
        schedule.Probe);

    /// <summary>
    /// Whether a token leaves at an exit point with <paramref name="test"/>.
    /// </summary>
    /// <param name="test">the exit point's test</param>
    /// <param name="hidden">the hidden state after the exit point's step</param>
    /// <param name="previous">the state at the previous exit point this token passed, or the state entering the step at the first one (state saturation)</param>
    /// <param name="logits">the exit head's logits here; read only when <see cref="ExitTest.NeedsHead"/></param>
    /// <param name="argmaxHistory">argmax of every exit point of this token that computed a head, in order, ending with this one's (patience)</param>
    public bool Passes(ExitTest test, ReadOnlySpan<float> hidden, ReadOnlySpan<float> previous, ReadOnlySpan<float> logits, ReadOnlySpan<int> argmaxHistory)
    {
        switch (test.Criterion)
        {
            case ExitCriterion.MaxProbability: return ExitMeasures.MaxProbability(logits, _scratch) >= test.Threshold;
            case ExitCriterion.Margin: return ExitMeasures.Margin(logits, _scratch) >= test.Threshold;
            case ExitCriterion.Entropy: return ExitMeasures.Entropy(logits, _scratch) <= test.Threshold;
            case ExitCriterion.StateSaturation: return ExitMeasures.Cosine(hidden, previous) >= test.Threshold;
            case ExitCriterion.Learned: return Score(test.Probe!, hidden) >= test.Threshold;
            case ExitCriterion.Patience:
            {
                var k = test.Patience;
                if (argmaxHistory.Length < k) return false;
                var here = argmaxHistory[^1];
                for (var i = argmaxHistory.Length - k; i < argmaxHistory.Length - 1; i++)
                    if (argmaxHistory[i] != here) return false;
                return true;
            }
            case ExitCriterion.Ensemble:
            {
                var votes = 0;
                for (var i = 0; i < test.Members.Count; i++)
                    if (Passes(test.Members[i], hidden, previous, logits, argmaxHistory) && ++votes >= test.Votes) return true;
                return votes >= test.Votes;
            }
            default: throw new NotSupportedException($"Exit criterion {test.Criterion} is not implemented.");
        }
    }

    /// <summary>
    /// Whether a generated token skips the step <paramref name="rule"/> guards.
    /// </summary>
    /// <param name="rule">the step's skip rule</param>
    /// <param name="enteringPrevious">the state that entered the previous step (cosine rules; unused at step 0, where nothing is skipped by cosine)</param>
    /// <param name="entering">the state entering this step</param>
    public bool Skips(SkipRule rule, ReadOnlySpan<float> enteringPrevious, ReadOnlySpan<float> entering) => rule.Test switch
    {
        SkipTest.Cosine => !enteringPrevious.IsEmpty && ExitMeasures.Cosine(enteringPrevious, entering) >= rule.Threshold,
        SkipTest.Learned => Score(rule.Probe!, entering) >= rule.Threshold,
        _ => throw new NotSupportedException($"Skip test {rule.Test} is not implemented."),
    };

    private float Score(string file, ReadOnlySpan<float> hidden)
    {
        var (weights, bias) = _probes[file];
        return ExitMeasures.Probe(hidden, weights, bias, _normEps);
    }
}
