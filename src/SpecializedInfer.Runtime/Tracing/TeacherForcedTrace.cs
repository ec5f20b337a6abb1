using SpecializedInfer.Engine;
using SpecializedInfer.Evaluation;
using SpecializedInfer.Sampling;

namespace SpecializedInfer.Tracing;

/// <summary>A sequence as it was traced: the prompt, the continuation tokens fed after it, and where its positions start.</summary>
public sealed record TracedSequence(int[] Prompt, int[] Continuation, int Group, int FirstPosition)
{
    /// <summary>Positions recorded for it: one per fed continuation token (every token but the last).</summary>
    public int Positions => Math.Max(0, Continuation.Length - 1);
}

/// <summary>
/// The full model run over sequences the way a plan meets them at generation time: each prompt at full depth, then its
/// continuation token by token through <see cref="IInferenceSession.Forward(int)"/>. For every fed token (a
/// <em>position</em>) it keeps the hidden state after each requested step, the state after the last step, and the
/// full model's greedy next token. Learned probes and exit heads are fitted on it (<c>si learn-exits</c>), and plan
/// calibration replays its sequences through a plan and compares with its tokens (<see cref="TraceReplay"/>).
/// </summary>
/// <remarks>
/// The last continuation token is never fed (nothing would compare with its prediction), as in
/// <see cref="QualityEvaluator.TeacherForced"/>; unlike there, the prediction made from the prompt is not a position
/// either, since a plan never changes it. Memory is (steps + 1) × positions × dim floats, allocated once up front
/// for the most positions the requests can produce (<see cref="MaxBytes"/> at most).
/// </remarks>
public sealed class TeacherForcedTrace
{
    /// <summary>The most memory a trace may take for its states; past it, <see cref="Record"/> refuses before running.</summary>
    public const long MaxBytes = 4L << 30;

    private readonly float[][] _states; // per recorded step, then the final state: [position × dim]
    private readonly int[] _targets;
    private readonly int[] _groups;

    private TeacherForcedTrace(int dim, int[] steps, int finalStep, int capacity)
    {
        Dim = dim;
        Steps = steps;
        FinalStep = finalStep;
        _states = new float[steps.Length + 1][];
        for (var s = 0; s < _states.Length; s++) _states[s] = new float[(long)capacity * dim];
        _targets = new int[capacity];
        _groups = new int[capacity];
    }

    public int Dim { get; }

    /// <summary>The schedule steps whose output states are kept, in the order <see cref="State"/> indexes them.</summary>
    public IReadOnlyList<int> Steps { get; }

    /// <summary>The last step of the full model: <see cref="FinalState"/> is its output.</summary>
    public int FinalStep { get; }

    /// <summary>Recorded positions.</summary>
    public int Count { get; private set; }

    public IReadOnlyList<TracedSequence> Sequences => _sequences;
    private readonly List<TracedSequence> _sequences = [];

    /// <summary>The hidden state after step <c>Steps[slot]</c> at a recorded position.</summary>
    public ReadOnlySpan<float> State(int slot, int position) => Row(_states[slot], position);

    /// <summary>The hidden state after the last step (before the final norm) at a recorded position.</summary>
    public ReadOnlySpan<float> FinalState(int position) => Row(_states[^1], position);

    /// <summary>The full model's greedy next token at a recorded position (the argmax of its logits).</summary>
    public int Target(int position) => (uint)position < (uint)Count ? _targets[position] : throw new ArgumentOutOfRangeException($"The trace has positions 0 to {Count - 1}, not {position}.", innerException: null);

    /// <summary>The group of the sequence a recorded position belongs to.</summary>
    public int Group(int position) => (uint)position < (uint)Count ? _groups[position] : throw new ArgumentOutOfRangeException($"The trace has positions 0 to {Count - 1}, not {position}.", innerException: null);

    private ReadOnlySpan<float> Row(float[] data, int position) =>
        (uint)position < (uint)Count ? data.AsSpan(position * Dim, Dim) : throw new ArgumentOutOfRangeException($"The trace has positions 0 to {Count - 1}, not {position}.", innerException: null);

    /// <summary>
    /// Runs <paramref name="full"/> (a model without a plan) over every request and records the states after
    /// <paramref name="steps"/>. Drawn continuations end at <paramref name="eosId"/> (EOS is their last token) when it is
    /// not negative.
    /// </summary>
    public static TeacherForcedTrace Record(ILanguageModel full, IReadOnlyList<TraceRequest> requests, IReadOnlyList<int> steps,
        int eosId = -1, IProgress<EvaluationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(full);
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(steps);
        if (!full.Schedule.IsFullModel)
            throw new ArgumentException("A trace is recorded from the full model: load the model without a plan.");
        var scheduleSteps = full.Schedule.Steps.Count;
        foreach (var s in steps)
            if ((uint)s >= (uint)scheduleSteps)
                throw new ArgumentOutOfRangeException($"The model has steps 0 to {scheduleSteps - 1}; step {s} does not exist.", innerException: null);
        if (steps.Distinct().Count() != steps.Count) throw new ArgumentException("A step is listed twice.");
        if (requests.Count == 0) throw new ArgumentException("Nothing to trace: no sequences.");

        var dim = full.Config.Dim;
        long capacity = requests.Sum(r => (long)Math.Max(0, r.Count - 1));
        var bytes = (steps.Count + 1) * capacity * dim * sizeof(float);
        if (bytes > MaxBytes || capacity * dim > Array.MaxLength)
            throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"The trace would keep {capacity:N0} positions × {steps.Count + 1} states of {dim} floats ({bytes / (1 << 20):N0} MiB); at most {MaxBytes >> 20:N0} MiB are allowed. Trace fewer or shorter sequences."), nameof(requests));
        var context = requests.Max(r => r.Prompt.Length + r.Count - 1);
        if (context > full.Config.ContextLength)
            throw new ArgumentException($"A sequence needs {context} positions; the model holds {full.Config.ContextLength}.");

        var trace = new TeacherForcedTrace(dim, steps.ToArray(), scheduleSteps - 1, (int)capacity);
        using var session = full.CreateSession(context);
        var observer = new Capture(trace);
        var vocab = full.Config.VocabSize;
        for (var i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            session.Observer = null;
            session.Rewind(0);
            var sampler = r.Sampling is { } options ? new Sampler(options, vocab) : null;
            var logits = session.Forward(r.Prompt);
            var fed = new List<int>(r.Count);
            var first = trace.Count;
            var token = sampler?.Sample(logits) ?? r.Given![0];
            session.Observer = observer;
            while (true)
            {
                fed.Add(token);
                if (fed.Count == r.Count || (sampler is not null && token == eosId)) break;
                observer.Row = trace.Count;
                logits = session.Forward(token);
                trace._targets[trace.Count] = Sampler.ArgMax(logits);
                trace._groups[trace.Count] = r.Group;
                trace.Count++;
                token = sampler?.Sample(logits) ?? r.Given![fed.Count];
            }
            session.Observer = null;
            trace._sequences.Add(new TracedSequence(r.Prompt, fed.ToArray(), r.Group, first));
            progress?.Report(new EvaluationProgress("trace", i + 1, requests.Count));
        }
        return trace;
    }

    /// <summary>Copies the states of the position being run into its row, for the recorded steps and the last one.</summary>
    private sealed class Capture(TeacherForcedTrace trace) : ILayerObserver
    {
        private readonly int[] _slotByStep = SlotByStep(trace);

        public int Row { get; set; }

        public void OnLayerOutput(int position, int step, int layer, ReadOnlySpan<float> hidden)
        {
            if (step == trace.FinalStep) hidden.CopyTo(trace._states[^1].AsSpan(Row * trace.Dim, trace.Dim));
            if (_slotByStep[step] is var slot and >= 0) hidden.CopyTo(trace._states[slot].AsSpan(Row * trace.Dim, trace.Dim));
        }

        private static int[] SlotByStep(TeacherForcedTrace trace)
        {
            var slots = Enumerable.Repeat(-1, trace.FinalStep + 1).ToArray();
            for (var i = 0; i < trace.Steps.Count; i++) slots[trace.Steps[i]] = i;
            return slots;
        }
    }
}
