using System.Diagnostics;
using SpecializedInfer.Engine;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Evaluation;

/// <summary>
/// Measures a planned model against the full model: greedy agreement teacher-forced and free-running, KL
/// divergence of the next-token distributions, perplexity on a text, decode speed and the plan's depth. Works
/// through <see cref="ILanguageModel"/> only, so the reference engine and generated engines are measured alike.
/// </summary>
/// <remarks>
/// Prompt tokens go through <see cref="IInferenceSession.Forward(ReadOnlySpan{int})"/> (full depth) and every
/// continuation or text token after them through <see cref="IInferenceSession.Forward(int)"/>, so a plan's decode
/// depth and early exits apply exactly as they do when it generates.
/// </remarks>
public sealed class QualityEvaluator
{
    private readonly ILanguageModel _full;
    private readonly ILanguageModel _plan;
    private readonly ITokenizer _tokenizer;
    private readonly int _vocab;
    private readonly int _maxContext;

    public QualityEvaluator(ILanguageModel full, ILanguageModel plan, ITokenizer tokenizer, EvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(full);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(tokenizer);
        Options = options ?? new EvaluationOptions();
        Options.Validate();
        _vocab = full.Config.VocabSize;
        if (plan.Config.VocabSize != _vocab)
            throw new ArgumentException($"The models' vocabularies differ ({_vocab} and {plan.Config.VocabSize} tokens).");
        if (tokenizer.VocabSize != _vocab)
            throw new ArgumentException($"The tokenizer has {tokenizer.VocabSize} tokens; the models have {_vocab}.");
        _full = full;
        _plan = plan;
        _tokenizer = tokenizer;
        _maxContext = Math.Min(full.Config.ContextLength, plan.Config.ContextLength);
        if (Options.PerplexityWindow > _maxContext)
            throw new ArgumentException($"A perplexity window of {Options.PerplexityWindow} tokens exceeds the models' context of {_maxContext}.");
    }

    public EvaluationOptions Options { get; }

    /// <summary>Everything: both agreement passes on <paramref name="prompts"/>, then perplexity on <paramref name="text"/> when given.</summary>
    public QualityReport Evaluate(IReadOnlyList<string> prompts, string? text = null, IProgress<EvaluationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        var encoded = prompts.Select(p => _tokenizer.Encode(p, Options.AddBos, parseSpecial: false)).ToArray();
        var teacherForced = TeacherForced(encoded, progress);
        var freeRunning = FreeRunning(encoded, progress);
        var perplexity = text is null ? null : Perplexity(_tokenizer.Encode(text, addSpecial: true, parseSpecial: false), progress);
        return new QualityReport(_full.Name, _plan.Name, _full.Schedule, _plan.Schedule, prompts.Count, Options,
            teacherForced, freeRunning, perplexity);
    }

    /// <summary>
    /// Feeds the full model's greedy continuation of each prompt to both models and compares, at every prediction,
    /// the plan's argmax with the full model's and the two distributions (KL(full ‖ plan)).
    /// </summary>
    public TeacherForcedResult TeacherForced(IReadOnlyList<int[]> prompts, IProgress<EvaluationProgress>? progress = null)
    {
        var context = ContextFor(prompts);
        using var full = _full.CreateSession(Session(context));
        using var plan = _plan.CreateSession(Session(context));
        var fullLogits = new float[_vocab]; // a copy, so no engine has to keep its logits apart from another session's
        long positions = 0, agreements = 0;
        double klSum = 0, klMax = 0;
        for (var i = 0; i < prompts.Count; i++)
        {
            full.Rewind(0);
            plan.Rewind(0);
            full.Forward(prompts[i]).CopyTo(fullLogits);
            var planLogits = plan.Forward(prompts[i]);
            for (var produced = 1; ; produced++)
            {
                var target = Sampler.ArgMax(fullLogits);
                positions++;
                if (Sampler.ArgMax(planLogits) == target) agreements++;
                var kl = Divergence.KullbackLeibler(fullLogits, planLogits);
                klSum += kl;
                if (kl > klMax) klMax = kl;
                if (produced == Options.MaxNewTokens || (Options.StopAtEos && target == _tokenizer.EosId)) break;
                full.Forward(target).CopyTo(fullLogits);
                planLogits = plan.Forward(target);
            }
            progress?.Report(new EvaluationProgress("teacher-forced", i + 1, prompts.Count));
        }
        return new TeacherForcedResult(positions, agreements, klSum, klMax);
    }

    /// <summary>
    /// Lets each model continue each prompt greedily on its own and compares the two generations token by token;
    /// times the generated tokens' forward passes (the models take turns going first) and collects their depth.
    /// </summary>
    public FreeRunningResult FreeRunning(IReadOnlyList<int[]> prompts, IProgress<EvaluationProgress>? progress = null)
    {
        var context = ContextFor(prompts);
        using var full = _full.CreateSession(Session(context));
        using var plan = _plan.CreateSession(Session(context));
        var fullRun = new DecodeRun(full, Options, _tokenizer.EosId, _vocab);
        var planRun = new DecodeRun(plan, Options, _tokenizer.EosId, _vocab);
        long compared = 0, identical = 0, prefixes = 0;
        for (var i = 0; i < prompts.Count; i++)
        {
            // Alternate which model goes first so neither always runs on a cache the other just warmed or evicted.
            if (i % 2 == 0) { fullRun.Generate(prompts[i]); planRun.Generate(prompts[i]); }
            else { planRun.Generate(prompts[i]); fullRun.Generate(prompts[i]); }
            var a = fullRun.Last;
            var b = planRun.Last;
            var common = Math.Min(a.Count, b.Count);
            var prefix = 0;
            while (prefix < common && a[prefix] == b[prefix]) prefix++;
            var same = prefix;
            for (var t = prefix; t < common; t++) if (a[t] == b[t]) same++;
            compared += Math.Max(a.Count, b.Count);
            identical += same;
            prefixes += prefix;
            progress?.Report(new EvaluationProgress("free-running", i + 1, prompts.Count));
        }
        return new FreeRunningResult(prompts.Count, compared, identical, prefixes, fullRun.Tokens, planRun.Tokens,
            new SpeedComparison(fullRun.Speed, planRun.Speed), fullRun.Depth(_full.Schedule), planRun.Depth(_plan.Schedule));
    }

    /// <summary>
    /// Perplexity of both models on <paramref name="tokens"/> (normally the text with BOS), in windows of
    /// <see cref="EvaluationOptions.PerplexityWindow"/>: each window's first token is the prompt, every later token
    /// is predicted from the logits before it and then fed as a generated token.
    /// </summary>
    public PerplexityResult Perplexity(IReadOnlyList<int> tokens, IProgress<EvaluationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Count < 2) throw new ArgumentException("Perplexity needs at least two tokens.");
        var all = tokens as int[] ?? tokens.ToArray();
        var window = Options.PerplexityWindow;
        var windows = (all.Length + window - 1) / window;
        if (all.Length - (windows - 1) * window < 2) windows--; // a lone trailing token predicts nothing
        using var full = _full.CreateSession(Session(window));
        using var plan = _plan.CreateSession(Session(window));
        double fullNll = 0, planNll = 0;
        long predictions = 0;
        for (var w = 0; w < windows; w++)
        {
            var slice = all.AsSpan(w * window, Math.Min(window, all.Length - w * window));
            fullNll += WindowNll(full, slice);
            planNll += WindowNll(plan, slice);
            predictions += slice.Length - 1;
            progress?.Report(new EvaluationProgress("perplexity", w + 1, windows));
        }
        return new PerplexityResult(all.Length, windows, predictions, fullNll, planNll);
    }

    private static double WindowNll(IInferenceSession session, ReadOnlySpan<int> window)
    {
        session.Rewind(0);
        var logits = session.Forward(window[..1]);
        double nll = 0;
        for (var j = 1; j < window.Length; j++)
        {
            nll += Divergence.NegativeLogLikelihood(logits, window[j]);
            if (j + 1 < window.Length) logits = session.Forward(window[j]);
        }
        return nll;
    }

    private int ContextFor(IReadOnlyList<int[]> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("No prompts.");
        var longest = 0;
        for (var i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length == 0) throw new ArgumentException($"Prompt {i + 1} has no tokens (an empty prompt needs BOS).");
            longest = Math.Max(longest, prompts[i].Length);
        }
        // The last generated token is never fed back, so prompt + n − 1 positions suffice.
        var needed = longest + Options.MaxNewTokens - 1;
        if (needed > _maxContext)
            throw new ArgumentException($"The longest prompt ({longest} tokens) plus {Options.MaxNewTokens} new tokens needs {needed} positions; the models hold {_maxContext}.");
        return needed;
    }

    /// <summary>Greedy generation in one session, with timing and depth summed over prompts.</summary>
    private sealed class DecodeRun(IInferenceSession session, EvaluationOptions options, int eosId, int vocab)
    {
        private readonly Generation.SelfSpeculativeDecoder? _speculative =
            session is ISpeculativeSession s ? new Generation.SelfSpeculativeDecoder(s, vocab, eosId) : null;
        private readonly long[] _histogram = new long[session.Statistics.ScheduleSteps + 1];
        private readonly long[] _exits = new long[session.Statistics.ScheduleSteps];
        private readonly long[] _skips = new long[session.Statistics.ScheduleSteps];
        private long _generatedTokens, _generatedSteps, _steps, _ticks, _recomputed, _passes, _drafted, _accepted;

        public List<int> Last { get; } = [];
        public long Tokens { get; private set; }
        public DecodeSpeed Speed => new(_steps, (double)_ticks / Stopwatch.Frequency);

        public void Generate(int[] prompt)
        {
            session.Rewind(0);
            session.Statistics.Reset();
            Last.Clear();
            var token = Sampler.ArgMax(session.Forward(prompt));
            long ticks = 0;
            if (_speculative is not null)
            {
                // Lossless plans generate greedily by drafting and verifying; the tokens are the full model's, the time is not.
                var start = Stopwatch.GetTimestamp();
                foreach (var t in _speculative.Decode(token, options.MaxNewTokens, stopAtEos: false))
                {
                    Last.Add(t);
                    if (options.StopAtEos && t == eosId) break;
                }
                ticks = Stopwatch.GetTimestamp() - start;
                _steps += Last.Count - 1;
            }
            else
                while (true)
                {
                    Last.Add(token);
                    if (Last.Count == options.MaxNewTokens || (options.StopAtEos && token == eosId)) break;
                    var start = Stopwatch.GetTimestamp();
                    token = Sampler.ArgMax(session.Forward(token));
                    ticks += Stopwatch.GetTimestamp() - start;
                    _steps++;
                }
            _ticks += ticks;
            Tokens += Last.Count;

            var stats = session.Statistics;
            _generatedTokens += stats.GeneratedTokens;
            _generatedSteps += stats.GeneratedSteps;
            for (var n = 0; n < _histogram.Length; n++) _histogram[n] += stats.StepsHistogram[n];
            for (var s = 0; s < _exits.Length; s++)
            {
                _exits[s] += stats.ExitsPerStep[s];
                _skips[s] += stats.SkipsPerStep[s];
            }
            _recomputed += stats.RecomputedSteps;
            _passes += stats.VerificationPasses;
            _drafted += stats.DraftedTokens;
            _accepted += stats.AcceptedDrafts;
        }

        public DepthStatistics Depth(Planning.ExecutionSchedule schedule) => new(
            _exits.Length, _generatedTokens, _generatedSteps, _histogram.ToArray(),
            schedule.Exits.Select(e => new ExitCount(e, e.AfterStep < _exits.Length ? _exits[e.AfterStep] : 0)).ToArray())
        {
            SkipsPerStep = _skips.ToArray(),
            RecomputedSteps = _recomputed,
            VerificationPasses = _passes,
            DraftedTokens = _drafted,
            AcceptedDrafts = _accepted,
        };
    }

    /// <summary>The options of a session holding <paramref name="context"/> positions on the evaluation's threads.</summary>
    private SessionOptions Session(int context) => new() { ContextLength = context, Threads = Options.Threads };
}
