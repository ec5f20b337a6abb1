using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Engine;

public partial class ReferenceSession
{
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
        private readonly DraftDecision _draft;
        private readonly int _draftSteps;

        // The current run of drafts: consecutive positions from _runStart, their tokens and the hidden state after
        // step DraftSteps − 1 (one row each). Capacity is one verification batch.
        private readonly int[] _runTokens = new int[Speculation.MaxDraftTokens + 1];
        private readonly float[] _runHidden;
        private int _runStart, _runCount;
        private long _runStamp = -1;

        internal Speculative(ReferenceEngine engine, SessionOptions options) : base(engine, options)
        {
            Speculation = engine.Schedule.Speculation
                ?? throw new ArgumentException("Speculative sessions need a plan with \"kvFill\": \"lossless\".");
            _draft = engine.Decisions.Draft!;
            _draftSteps = _draft.Steps;
            _runHidden = new float[_runTokens.Length * _c.Dim];
        }

        public Speculation Speculation { get; }

        public ReadOnlySpan<float> Draft(int token, out bool confident)
        {
            CheckTokens([token]);
            var pos = Position;
            var dim = _c.Dim;
            var x = Row(_x, 0, dim);
            _w.TokenEmbedding.ReadRow(token, x);
            for (var s = 0; s < _draftSteps; s++)
            {
                if (s == _draftSteps - 1) _interpreter.Keep(_draft.KeepBeforeLast, x);
                RunStep(_steps[s], pos, count: 1);
                Observer?.OnLayerOutput(pos, s, _steps[s].Layer, x);
            }
            Head(_draft.Head, x, _logits);
            confident = _interpreter.Passes(_draft.Confident, x, _logits);

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
            if (tokens.IsEmpty) throw new ArgumentException("At least one token is needed.");
            var vocab = _c.VocabSize;
            if (allLogits.Length != tokens.Length * vocab)
                throw new ArgumentException($"Need room for {tokens.Length} × {vocab} logits.");
            Rewind(start);
            CheckTokens(tokens);

            var reused = 0;
            if (start == _runStart && Statistics.Recordings == _runStamp && tokens.Length <= MaxBatch)
                while (reused < _runCount && reused < tokens.Length && tokens[reused] == _runTokens[reused]) reused++;
            _runCount = 0; // verification rewrites these positions; the next draft starts a new run

            if (reused == 0)
            {
                RunFullDepth(tokens, allLogits, asPrompt: false);
                return;
            }

            // The new positions run the draft steps first, in rows 0.., then move behind the reused rows.
            var dim = _c.Dim;
            var fresh = tokens.Length - reused;
            for (var j = 0; j < fresh; j++) _w.TokenEmbedding.ReadRow(tokens[reused + j], Row(_x, j, dim));
            if (fresh > 0) RunSteps(0, _draftSteps, start + reused, fresh);
            _x.AsSpan(0, fresh * dim).CopyTo(_x.AsSpan(reused * dim));
            _runHidden.AsSpan(0, reused * dim).CopyTo(_x);
            RunSteps(_draftSteps, _steps.Length, start, tokens.Length);
            Heads(tokens.Length, allLogits);
            Position = start + tokens.Length;
            allLogits.Slice((tokens.Length - 1) * vocab, vocab).CopyTo(_logits);
        }

        private void Heads(int count, Span<float> logits)
        {
            var vocab = _c.VocabSize;
            for (var j = 0; j < count; j++) Head(Row(_x, j, _c.Dim), logits.Slice(j * vocab, vocab));
        }
    }
}
