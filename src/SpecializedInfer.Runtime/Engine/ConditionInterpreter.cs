using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Engine;

/// <summary>
/// Evaluates the decision model's conditions (<see cref="DecodeDecisions"/>) at run time, every number from
/// <see cref="ExitMeasures"/>, each compared with its threshold as written (the single-precision measure widened to
/// double), exactly as generated engines print them. Holds the session's decision state: one vocabulary-sized scratch,
/// the kept states and the recorded argmaxes; one interpreter serves one session (one thread) and nothing it does
/// allocates.
/// </summary>
public sealed class ConditionInterpreter
{
    private readonly float[] _scratch;
    private readonly float _normEps;
    private readonly float[][] _probeWeights;
    private readonly float[] _probeBias;
    private readonly float[] _skipReference, _exitReference;
    private readonly int[] _argMax;

    /// <param name="vocabSize">logits per token (the scratch size)</param>
    /// <param name="dim">hidden state width (the kept states' size; 0 when no condition reads a hidden state)</param>
    /// <param name="normEps">the model's RMSNorm epsilon, which probes normalize with</param>
    /// <param name="probes">the schedule's probes, indexed as <see cref="ProbeMeasure.Index"/> indexes them</param>
    /// <param name="argMaxSlots">argmax slots patience tests compare (<see cref="DecodeDecisions.ArgMaxSlots"/>)</param>
    public ConditionInterpreter(int vocabSize, int dim, float normEps, IReadOnlyList<LinearProbe> probes, int argMaxSlots)
    {
        VocabSize = vocabSize;
        _scratch = new float[vocabSize];
        _normEps = normEps;
        _probeWeights = probes.Select(p => p.Weights.ToArray()).ToArray();
        _probeBias = probes.Select(p => p.Bias).ToArray();
        _skipReference = new float[dim];
        _exitReference = new float[dim];
        _argMax = new int[argMaxSlots];
    }

    /// <summary>An interpreter for the decisions of <paramref name="schedule"/> on a model of the given sizes.</summary>
    public static ConditionInterpreter For(ExecutionSchedule schedule, DecodeDecisions decisions, int vocabSize, int dim, float normEps) =>
        new(vocabSize, dim, normEps, schedule.Probes, decisions.ArgMaxSlots);

    /// <summary>The largest logits length this interpreter's scratch serves.</summary>
    public int VocabSize { get; }

    /// <summary>Copies the current state into the slot of every state in <paramref name="states"/>.</summary>
    public void Keep(IReadOnlyList<TokenState> states, ReadOnlySpan<float> current)
    {
        for (var i = 0; i < states.Count; i++) current.CopyTo(Slot(states[i].Slot));
    }

    /// <summary>Records the argmax of <paramref name="logits"/> in <paramref name="slot"/> (patience's history).</summary>
    public void RecordArgMax(int slot, ReadOnlySpan<float> logits) => _argMax[slot] = ExitMeasures.ArgMax(logits);

    /// <summary>
    /// Whether <paramref name="condition"/> passes, with <paramref name="current"/> the state of the moment it is evaluated
    /// at and <paramref name="logits"/> the logits it may read (empty when it reads none).
    /// </summary>
    public bool Passes(Condition condition, ReadOnlySpan<float> current, ReadOnlySpan<float> logits)
    {
        switch (condition)
        {
            case ConstantCondition constant:
                return constant.Value;
            case ThresholdTest test:
                var value = Measure(test.Measure, current, logits);
                return test.Bound == Bound.AtLeast ? value >= test.Threshold : value <= test.Threshold;
            case SameArgMax same:
                return _argMax[same.Slot] == _argMax[same.EarlierSlot];
            case AllOf all:
                for (var i = 0; i < all.Conditions.Count; i++)
                    if (!Passes(all.Conditions[i], current, logits)) return false;
                return true;
            case AtLeastOf votes:
                var passed = 0;
                for (var i = 0; i < votes.Conditions.Count; i++)
                    if (Passes(votes.Conditions[i], current, logits) && ++passed >= votes.Count) return true;
                return false;
            default:
                throw new NotSupportedException($"Condition {condition.GetType().Name} is not implemented.");
        }
    }

    /// <summary>The number a measure compares with its threshold.</summary>
    public float Measure(Measure measure, ReadOnlySpan<float> current, ReadOnlySpan<float> logits) => measure switch
    {
        LogitsMeasure { Kind: LogitsMeasureKind.MaxProbability } => ExitMeasures.MaxProbability(logits, _scratch),
        LogitsMeasure { Kind: LogitsMeasureKind.Margin } => ExitMeasures.Margin(logits, _scratch),
        LogitsMeasure => ExitMeasures.Entropy(logits, _scratch),
        CosineMeasure cosine => ExitMeasures.Cosine(State(cosine.First, current), State(cosine.Second, current)),
        ProbeMeasure probe => ExitMeasures.Probe(State(probe.State, current), _probeWeights[probe.Index], _probeBias[probe.Index], _normEps),
        _ => throw new NotSupportedException($"Measure {measure.GetType().Name} is not implemented."),
    };

    private ReadOnlySpan<float> State(TokenState state, ReadOnlySpan<float> current) => state.Slot == StateSlot.Current ? current : Slot(state.Slot);

    private Span<float> Slot(StateSlot slot) => slot switch
    {
        StateSlot.SkipReference => _skipReference,
        StateSlot.ExitReference => _exitReference,
        _ => throw new ArgumentOutOfRangeException($"The current state is not kept (slot {slot}).", innerException: null),
    };
}
