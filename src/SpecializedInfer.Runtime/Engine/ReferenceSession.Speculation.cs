using SpecializedInfer.Planning;

namespace SpecializedInfer.Engine;

public partial class ReferenceSession
{
    /// <summary>
    /// The steps <see cref="Forward(int)"/> walks. In lossless mode the plan's only exit point belongs to the drafter,
    /// so it is left out here: a generated token always runs the whole schedule and its logits are the full model's.
    /// </summary>
    private static ScheduleStep[] ForwardSteps(ExecutionSchedule schedule) =>
        schedule.KvFill == KvFill.Lossless
            ? schedule.Steps.Select(s => s with { ExitAfter = null }).ToArray()
            : schedule.Steps.ToArray();

    /// <summary>
    /// A reference session for a lossless plan: everything <see cref="ReferenceSession"/> does, plus drafting with the
    /// first steps and batched verification with all of them. A separate type so that <c>session is
    /// ISpeculativeSession</c> holds exactly when speculation is possible, as it does for generated engines.
    /// </summary>
    /// <remarks>
    /// Verification reuses the draft's work: a drafted position already ran steps <c>0 .. DraftSteps − 1</c>, the same
    /// arithmetic on the same cache a full-depth pass would do, so its K/V there are already final and its hidden state
    /// after those steps is kept; verification runs only the remaining steps for it. Reuse is limited to a run of
    /// drafts that started at the verification's start with the same tokens, with nothing written to the cache since
    /// (tracked through <see cref="SessionStatistics.Recordings"/>), so the results stay bit-identical.
    /// </remarks>
    public sealed class Speculative : ReferenceSession, ISpeculativeSession
    {
        private readonly ExecutionSchedule _schedule;
        private readonly ExitPoint? _draftExit;
        private readonly int _draftSteps;
        private readonly Dictionary<string, (float[] Weights, float Bias)> _probeWeights = new(StringComparer.Ordinal);

        // The current run of drafts: consecutive positions from _runStart, their tokens and the hidden state after
        // step DraftSteps − 1 (one row each). Capacity is one verification batch.
        private readonly int[] _runTokens = new int[Speculation.MaxDraftTokens + 1];
        private readonly float[] _runHidden;
        private readonly float[] _entering;
        private int _runStart, _runCount;
        private long _runStamp = -1;

        internal Speculative(ReferenceEngine engine, int contextLength) : base(engine, contextLength)
        {
            _schedule = engine.Schedule;
            Speculation = engine.Schedule.Speculation
                ?? throw new ArgumentException("Speculative sessions need a plan with \"kvFill\": \"lossless\".", nameof(engine));
            _draftSteps = Speculation.DraftSteps;
            _draftExit = engine.Schedule.Steps[_draftSteps - 1].ExitAfter;
            if (_draftExit?.Head is { } head)
                throw new NotSupportedException($"The reference engine does not bind exit heads yet (the draft exit names {head.Output}).");
            _runHidden = new float[_runTokens.Length * _c.Dim];
            _entering = new float[_c.Dim];
        }

        public Speculation Speculation { get; }

        public ReadOnlySpan<float> Draft(int token, out bool confident)
        {
            CheckTokens([token]);
            var pos = Position;
            var dim = _c.Dim;
            var x = Row(_x, 0, dim);
            _w.TokenEmbedding.Row(token).CopyTo(x);
            for (var s = 0; s < _draftSteps; s++)
            {
                if (s == _draftSteps - 1) x.CopyTo(_entering);
                RunStep(_steps[s], pos, count: 1);
                Observer?.OnLayerOutput(pos, s, _steps[s].Layer, x);
            }
            Head(x, _logits);
            confident = _draftExit is null || Passes(_draftExit.Test, x, _logits);

            var stamp = Statistics.Recordings;
            if (pos != _runStart + _runCount || stamp != _runStamp || _runCount == _runTokens.Length)
            {
                _runStart = pos;
                _runCount = 0;
                _runStamp = stamp;
            }
            _runTokens[_runCount] = token;
            x.CopyTo(Row(_runHidden, _runCount, dim));
            _runCount++;
            Position = pos + 1;
            return _logits;
        }

        public void Verify(int start, ReadOnlySpan<int> tokens, Span<float> allLogits)
        {
            if (tokens.IsEmpty) throw new ArgumentException("At least one token is needed.", nameof(tokens));
            var vocab = _c.VocabSize;
            if (allLogits.Length != tokens.Length * vocab)
                throw new ArgumentException($"Need room for {tokens.Length} × {vocab} logits.", nameof(allLogits));
            Rewind(start);
            CheckTokens(tokens);

            var reused = 0;
            if (start == _runStart && Statistics.Recordings == _runStamp && tokens.Length <= MaxBatch)
                while (reused < _runCount && reused < tokens.Length && tokens[reused] == _runTokens[reused]) reused++;
            _runCount = 0; // verification rewrites these positions; the next draft starts a new run

            var dim = _c.Dim;
            if (reused == 0)
            {
                for (var first = 0; first < tokens.Length; first += MaxBatch)
                {
                    var count = Math.Min(MaxBatch, tokens.Length - first);
                    for (var j = 0; j < count; j++) _w.TokenEmbedding.Row(tokens[first + j]).CopyTo(Row(_x, j, dim));
                    RunSteps(0, _steps.Length, start + first, count);
                    Heads(count, allLogits.Slice(first * vocab, count * vocab));
                }
            }
            else
            {
                // The new positions run the draft steps first, in rows 0.., then move behind the reused rows.
                var fresh = tokens.Length - reused;
                for (var j = 0; j < fresh; j++) _w.TokenEmbedding.Row(tokens[reused + j]).CopyTo(Row(_x, j, dim));
                if (fresh > 0) RunSteps(0, _draftSteps, start + reused, fresh);
                _x.AsSpan(0, fresh * dim).CopyTo(_x.AsSpan(reused * dim));
                _runHidden.AsSpan(0, reused * dim).CopyTo(_x);
                RunSteps(_draftSteps, _steps.Length, start, tokens.Length);
                Heads(tokens.Length, allLogits);
            }
            Position = start + tokens.Length;
            allLogits.Slice((tokens.Length - 1) * vocab, vocab).CopyTo(_logits);
        }

        private void RunSteps(int from, int to, int pos, int count)
        {
            for (var s = from; s < to; s++)
            {
                RunStep(_steps[s], pos, count);
                if (Observer is { } observer)
                    for (var j = 0; j < count; j++) observer.OnLayerOutput(pos + j, s, _steps[s].Layer, Row(_x, j, _c.Dim));
            }
        }

        private void Heads(int count, Span<float> logits)
        {
            var vocab = _c.VocabSize;
            for (var j = 0; j < count; j++) Head(Row(_x, j, _c.Dim), logits.Slice(j * vocab, vocab));
        }

        /// <summary>
        /// The draft exit's test on the draft's state and logits. Until the shared exit decider lands this covers every
        /// criterion for the one exit point a lossless plan may have: there is no earlier exit point, so state saturation
        /// compares with the state entering the step, and patience passes only with a patience of 1.
        /// </summary>
        private bool Passes(ExitTest test, ReadOnlySpan<float> hidden, ReadOnlySpan<float> logits) => test.Criterion switch
        {
            ExitCriterion.MaxProbability => ExitMeasures.MaxProbability(logits, _probe) >= test.Threshold,
            ExitCriterion.Margin => ExitMeasures.Margin(logits, _probe) >= test.Threshold,
            ExitCriterion.Entropy => ExitMeasures.Entropy(logits, _probe) <= test.Threshold,
            ExitCriterion.StateSaturation => ExitMeasures.Cosine(hidden, _entering) >= test.Threshold,
            ExitCriterion.Patience => test.Patience <= 1,
            ExitCriterion.Learned => LearnedScore(test.Probe!, hidden) >= test.Threshold,
            ExitCriterion.Ensemble => CountPassing(test, hidden, logits) >= test.Votes,
            _ => throw new NotSupportedException($"Exit criterion {test.Criterion} is not implemented."),
        };

        private int CountPassing(ExitTest ensemble, ReadOnlySpan<float> hidden, ReadOnlySpan<float> logits)
        {
            var passing = 0;
            foreach (var member in ensemble.Members)
                if (Passes(member, hidden, logits)) passing++;
            return passing;
        }

        private float LearnedScore(string file, ReadOnlySpan<float> hidden)
        {
            if (!_probeWeights.TryGetValue(file, out var probe))
            {
                var read = _schedule.Probe(file);
                _probeWeights[file] = probe = (read.Weights.ToArray(), read.Bias);
            }
            return ExitMeasures.Probe(hidden, probe.Weights, probe.Bias, _c.NormEps);
        }
    }
}
