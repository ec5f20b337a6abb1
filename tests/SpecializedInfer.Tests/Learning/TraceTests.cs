using SpecializedInfer.Engine;
using SpecializedInfer.Evaluation;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;
using SpecializedInfer.Tests.Evaluation;
using SpecializedInfer.Tracing;

namespace SpecializedInfer.Tests.Learning;

/// <summary>
/// The teacher-forced trace against a session run by hand with an observer (states, tokens, targets), and its replay
/// against <see cref="QualityEvaluator.TeacherForced"/>, which counts the same predictions plus the prompt's.
/// </summary>
public sealed class TraceTests : IDisposable
{
    private readonly EvaluationFiles _files = new();

    private sealed class States : ILayerObserver
    {
        public readonly Dictionary<(int Position, int Step), float[]> At = new();
        public void OnLayerOutput(int position, int step, int layer, ReadOnlySpan<float> hidden) => At[(position, step)] = hidden.ToArray();
    }

    [Fact]
    public void A_greedy_trace_keeps_the_models_own_continuation_states_and_tokens()
    {
        using var full = ReferenceEngine.Load(LearningData.Stories);
        var tokenizer = LlamaTokenizer.FromGguf(full.Weights.File);
        var prompts = LearningData.Encode(tokenizer, LearningData.Prompts.Take(3));
        var trace = TeacherForcedTrace.Record(full, TraceRequest.Continuations(prompts, 30, 0, 0).ToList(), [1, 3], tokenizer.EosId);
        Assert.Equal(3, trace.Sequences.Count);
        Assert.Equal(trace.Sequences.Sum(s => s.Positions), trace.Count);

        using var session = full.CreateSession(128);
        foreach (var sequence in trace.Sequences)
        {
            var observed = new States();
            session.Rewind(0);
            var token = Sampler.ArgMax(session.Forward(sequence.Prompt));
            session.Observer = observed;
            var tokens = new List<int> { token };
            for (var i = 0; i < sequence.Positions; i++)
            {
                var position = session.Position;
                token = Sampler.ArgMax(session.Forward(token));
                var at = sequence.FirstPosition + i;
                Assert.Equal(token, trace.Target(at));
                Assert.Equal(observed.At[(position, 1)], trace.State(0, at).ToArray());
                Assert.Equal(observed.At[(position, 3)], trace.State(1, at).ToArray());
                Assert.Equal(observed.At[(position, 4)], trace.FinalState(at).ToArray());
                tokens.Add(token);
            }
            session.Observer = null;
            Assert.Equal(tokens, sequence.Continuation);
        }
    }

    [Fact]
    public void Sampled_continuations_follow_their_seed_and_targets_stay_the_full_models_argmax()
    {
        using var full = ReferenceEngine.Load(LearningData.Stories);
        var tokenizer = LlamaTokenizer.FromGguf(full.Weights.File);
        var prompts = LearningData.Encode(tokenizer, LearningData.Prompts.Take(2));
        TeacherForcedTrace Record(ulong seed) => TeacherForcedTrace.Record(full, TraceRequest.Continuations(prompts, 40, 2, seed).ToList(), [2]);
        var a = Record(5);
        var b = Record(5);
        var c = Record(6);
        Assert.Equal(6, a.Sequences.Count);
        Assert.Equal(a.Sequences.Select(s => s.Continuation), b.Sequences.Select(s => s.Continuation));
        Assert.NotEqual(a.Sequences.Select(s => s.Continuation), c.Sequences.Select(s => s.Continuation));
        // Sampled sequences leave the greedy path, so some fed token is not the argmax that came before it.
        var sampled = a.Sequences.Where((_, i) => i % 3 != 0).ToList();
        Assert.Contains(sampled, s => Enumerable.Range(0, s.Positions - 1).Any(i => s.Continuation[i + 1] != a.Target(s.FirstPosition + i)));
        Assert.Equal([0, 0, 0, 1, 1, 1], a.Sequences.Select(s => s.Group));
    }

    [Fact]
    public void Replaying_a_plan_counts_what_the_quality_evaluator_counts_without_the_prompts_prediction()
    {
        const int count = 40;
        var prompts = LearningData.Prompts.Take(6).ToArray();
        using var full = ReferenceEngine.Load(LearningData.Stories);
        using var plan = ReferenceEngine.Load(LearningData.Stories, _files.Plan("\"exits\": [ { \"afterStep\": 2, \"criterion\": \"maxProbability\", \"threshold\": 0.5 } ]"));
        var tokenizer = LlamaTokenizer.FromGguf(full.Weights.File);
        var trace = LearningData.Greedy(full, prompts, count);

        var replay = TraceReplay.Run(plan, trace);
        var evaluated = new QualityEvaluator(full, plan, tokenizer, new EvaluationOptions { MaxNewTokens = count })
            .TeacherForced(LearningData.Encode(tokenizer, prompts));
        Assert.Equal(evaluated.Positions - prompts.Length, replay.Positions);
        Assert.Equal(evaluated.Positions - evaluated.Agreements, replay.Disagreements);
        Assert.InRange(replay.Disagreements, 1, replay.Positions - 1);
        Assert.True(replay.ExitsPerStep[2] > 0);
        Assert.Equal(0, TraceReplay.Run(full, trace).Disagreements);

        var stopped = TraceReplay.Run(plan, trace, stopAfterDisagreements: 2);
        Assert.True(stopped.Stopped);
        Assert.Equal(3, stopped.Disagreements);
    }

    [Fact]
    public void Text_windows_and_bad_requests()
    {
        var windows = TraceRequest.Windows(Enumerable.Range(10, 23).ToArray(), 10, 7).ToList();
        Assert.Equal([7, 8, 9], windows.Select(w => w.Group));
        Assert.Equal([10], windows[0].Prompt);
        Assert.Equal(Enumerable.Range(11, 9), windows[0].Given!);
        Assert.Equal([30, 31, 32], windows[2].Prompt.Concat(windows[2].Given!));
        Assert.Single(TraceRequest.Windows([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 10, 0)); // a lone trailing token predicts nothing

        using var full = ReferenceEngine.Load(LearningData.Stories);
        using var plan = ReferenceEngine.Load(LearningData.Stories, _files.Plan("\"decodeDepth\": 3"));
        var one = new[] { TraceRequest.Teacher([1], [2, 3], 0) };
        Assert.Contains("without a plan", Assert.Throws<ArgumentException>(() => TeacherForcedTrace.Record(plan, one, [1])).Message);
        Assert.Contains("steps 0 to 4", Assert.Throws<ArgumentOutOfRangeException>(() => TeacherForcedTrace.Record(full, one, [5])).Message);
        Assert.Throws<ArgumentException>(() => TraceRequest.Teacher([1], [], 0));
        Assert.Contains("holds 2048", Assert.Throws<ArgumentException>(() => TeacherForcedTrace.Record(full, [TraceRequest.Teacher([1], new int[2100], 0)], [1])).Message);
    }

    public void Dispose() => _files.Dispose();
}
