using SpecializedInfer.Planning;
using SpecializedInfer.Engine;
using SpecializedInfer.Models;

namespace SpecializedInfer.Tests.DynamicDepth;

/// <summary>
/// Every exit criterion against an oracle computed here. Under the recompute KV strategy every hidden state a token
/// reaches is the full model's (exited positions finish their steps before anyone reads them), so the full model's
/// trace predicts, per token, each exit point's state, head logits, measure, and therefore where the token must
/// leave and what it must answer. Thresholds are medians of the measured values so that some tokens leave and some
/// do not.
/// </summary>
public sealed class ExitCriteriaTests : DynamicDepthTestBase
{
    private const int Tokens = 24;

    /// <summary>An exit test as the plan writes it, with what the oracle needs to evaluate it.</summary>
    private sealed record Spec(string Criterion, double Threshold = 0, int Patience = 0, int Votes = 0, Spec[]? Members = null, string? Probe = null, float[]? ProbeWeights = null, float ProbeBias = 0)
    {
        public string Json()
        {
            var parts = new List<string> { $"\"criterion\": \"{Criterion}\"" };
            switch (Criterion)
            {
                case "patience": parts.Add($"\"patience\": {Patience}"); break;
                case "ensemble": parts.Add($"\"votes\": {Votes}, \"members\": [{string.Join(", ", Members!.Select(m => m.Json()))}]"); break;
                case "learned": parts.Add($"\"probe\": \"{Probe}\", \"threshold\": {F(Threshold)}"); break;
                default: parts.Add($"\"threshold\": {F(Threshold)}"); break;
            }
            return "{ " + string.Join(", ", parts) + " }";
        }
    }

    /// <summary>What the oracle knows at one exit point of one token.</summary>
    private sealed record Point(float[] Hidden, float[] Previous, Lazy<double[]> Logits, List<int> History);

    private readonly LlamaWeights _weights;
    private readonly ReferenceEngine _oracleEngine;

    public ExitCriteriaTests()
    {
        _oracleEngine = ReferenceEngine.Load(Stories);
        _weights = _oracleEngine.Weights;
    }

    private float Eps => _weights.Config.NormEps;

    private double[] SharedHead(float[] hidden) => HeadLogits(hidden, _weights.OutputNorm.Span, _weights.Output, Eps);

    /// <summary>The measure a criterion compares with its threshold (pass/fail for patience, whose "measure" is agreement).</summary>
    private double Measure(string criterion, Point p, Spec? spec = null) => criterion switch
    {
        "maxProbability" => MaxProbability(p.Logits.Value),
        "margin" => Margin(p.Logits.Value),
        "entropy" => Entropy(p.Logits.Value),
        "stateSaturation" => Cosine(p.Hidden, p.Previous),
        "learned" => ProbeScore(p.Hidden, spec!.ProbeBias, spec.ProbeWeights!, Eps),
        _ => throw new ArgumentException(criterion),
    };

    /// <summary>The oracle's decision; null when a measure sits too close to its threshold for float-vs-double to be sure.</summary>
    private bool? Passes(Spec spec, Point p)
    {
        switch (spec.Criterion)
        {
            case "patience":
                return p.History.Count >= spec.Patience && p.History.TakeLast(spec.Patience).Distinct().Count() == 1;
            case "ensemble":
                var votes = spec.Members!.Select(m => Passes(m, p)).ToList();
                if (votes.Any(v => v is null)) return null;
                return votes.Count(v => v == true) >= spec.Votes;
            default:
                var m = Measure(spec.Criterion, p, spec);
                if (Math.Abs(m - spec.Threshold) < 1e-5) return null;
                return spec.Criterion == "entropy" ? m <= spec.Threshold : m >= spec.Threshold;
        }
    }

    private static bool UsesHead(Spec s) => s.Criterion is "maxProbability" or "margin" or "entropy" or "patience" || (s.Members?.Any(UsesHead) ?? false);

    /// <summary>The exit points of token <paramref name="i"/> as the full model reaches them, assuming it passes each.</summary>
    private IEnumerable<Point> Points(Trace full, int i, int[] exitSteps, Func<int, Spec> specAt)
    {
        var pos = Prompt.Length + i;
        var history = new List<int>();
        float[]? previous = null;
        foreach (var e in exitSteps)
        {
            var hidden = full.States[(pos, e)];
            var entering = e == 0 ? _weights.TokenEmbedding.Row(Continuation[i]).ToArray() : full.States[(pos, e - 1)];
            var logits = new Lazy<double[]>(() => SharedHead(hidden));
            if (UsesHead(specAt(e))) history.Add(ArgMax(logits.Value));
            yield return new Point(hidden, previous ?? entering, logits, [.. history]);
            previous = hidden;
        }
    }

    [Theory]
    [InlineData("maxProbability")]
    [InlineData("margin")]
    [InlineData("entropy")]
    [InlineData("stateSaturation")]
    [InlineData("patience")]
    [InlineData("ensemble")]
    [InlineData("learned")]
    public void Tokens_leave_where_the_oracle_says_with_the_exit_heads_logits(string criterion) => LeaveAsPredicted(criterion, "recompute");

    /// <summary>
    /// Under propagate, states after the first exit depend on projected cache entries, so the full run no longer
    /// predicts them; the oracle then reads the states the session reported and still decides on its own.
    /// </summary>
    [Theory]
    [InlineData("maxProbability")]
    [InlineData("stateSaturation")]
    [InlineData("patience")]
    [InlineData("ensemble")]
    public void Under_propagate_tokens_leave_where_the_oracle_says_given_their_states(string criterion) => LeaveAsPredicted(criterion, "propagate");

    private void LeaveAsPredicted(string criterion, string kvFill)
    {
        var (full, fullLogits) = FullRun(Tokens);
        int[] exitSteps = criterion == "patience" ? [0, 1, 2, 3] : [1, 3];
        var direction = Direction(_weights.Config.Dim, seed: 7);

        // Calibrate each exit point's threshold on the full run (a placeholder spec gives the points' states).
        var specs = new Dictionary<int, Spec>();
        Spec Placeholder(int e) => new(criterion == "ensemble" ? "maxProbability" : criterion);
        foreach (var (e, k) in exitSteps.Select((e, k) => (e, k)))
        {
            List<Point> At(Func<int, Spec> specAt) => Enumerable.Range(0, Tokens).Select(i => Points(full, i, exitSteps, specAt).ElementAt(k)).ToList();
            var points = At(Placeholder);
            Spec Calibrated(string c) => new(c, Median(points.Select(p => Measure(c, p))));
            specs[e] = criterion switch
            {
                // Patience 2 cannot fire at the first exit point; a never-passing head test there starts the history.
                "patience" => e == exitSteps[0] ? new Spec("maxProbability", 1.5) : new Spec("patience", Patience: 2),
                "ensemble" => new Spec("ensemble", Votes: 2, Members: [Calibrated("maxProbability"), Calibrated("entropy"), Calibrated("margin")]),
                "learned" => LearnedAt(points),
                _ => Calibrated(criterion),
            };
        }
        Spec LearnedAt(List<Point> points)
        {
            // bias = −median(w·x̂): sigmoid crosses 0.5 at the median token.
            var projections = points.Select(p => Normalize(p.Hidden, Eps).Select((v, j) => v * direction[j]).Sum());
            var bias = (float)-Median(projections);
            return new Spec("learned", 0.5, Probe: Probe(bias, direction), ProbeWeights: direction, ProbeBias: bias);
        }

        var exitsJson = string.Join(", ", exitSteps.Select(e => "{ \"afterStep\": " + e + ", " + specs[e].Json()[2..]));
        using var engine = ReferenceEngine.Load(Stories, Plan($"\"exits\": [ {exitsJson} ], \"kvFill\": \"{kvFill}\""));
        using var session = engine.CreateSession(64);
        var trace = new Trace();
        var logits = Generate(session, Tokens, trace);

        var expectedExits = new long[5];
        var expectedDepths = new int[Tokens];
        var certain = 0;
        var ambiguous = false;
        for (var i = 0; i < Tokens; i++)
        {
            var pos = Prompt.Length + i;
            int? exitAt = -1;
            var states = kvFill == "recompute" ? full : trace;
            foreach (var (point, e) in Points(states, i, exitSteps, e => specs[e]).Zip(exitSteps))
            {
                var pass = Passes(specs[e], point);
                if (pass is null) { exitAt = null; break; }
                if (pass == true) { exitAt = e; break; }
            }
            if (exitAt is not { } exit) { ambiguous = true; continue; }
            certain++;
            if (exit >= 0)
            {
                expectedExits[exit]++;
                expectedDepths[i] = exit + 1;
                Assert.True(trace.Ran(pos, exit), $"token {i} should have run step {exit}");
                Assert.False(trace.Ran(pos, exit + 1), $"token {i} should have left after step {exit}");
                AssertClose(SharedHead(states.States[(pos, exit)]), logits[i]);
            }
            else
            {
                expectedDepths[i] = 5;
                Assert.True(trace.Ran(pos, 4), $"token {i} should have run every step");
                if (kvFill == "recompute") Assert.Equal(fullLogits[i], logits[i]); // recompute keeps every state the full model's, bit for bit
                else AssertClose(SharedHead(trace.States[(pos, 4)]), logits[i]);
            }
        }
        Assert.True(certain >= Tokens - 2, $"only {certain} tokens could be decided");
        Assert.True(expectedExits.Sum() > 0 && expectedExits.Sum() < certain, $"the thresholds should split the tokens (exits {string.Join(",", expectedExits)})");
        if (!ambiguous)
        {
            Assert.Equal(expectedExits, session.Statistics.ExitsPerStep.ToArray());
            Assert.Equal(expectedDepths.Sum(), session.Statistics.GeneratedSteps);
            Assert.Equal(kvFill == "recompute" ? SimulatedRecomputation(expectedDepths) : 0, session.Statistics.RecomputedSteps);
        }
    }

    /// <summary>
    /// Recomputed steps by the rule in docs/plans.md: before a token runs step s, each earlier position that has run
    /// fewer than s + 1 steps runs the missing ones.
    /// </summary>
    private static long SimulatedRecomputation(int[] depths)
    {
        var completed = new List<int>(Enumerable.Repeat(5, Prompt.Length));
        long recomputed = 0;
        foreach (var depth in depths)
        {
            for (var s = 0; s < depth; s++)
                for (var p = 0; p < completed.Count; p++)
                    if (completed[p] <= s) { recomputed += s + 1 - completed[p]; completed[p] = s + 1; }
            completed.Add(depth);
        }
        return recomputed;
    }

    [Fact]
    public void Exit_points_without_a_head_test_compute_no_head_until_the_token_leaves()
    {
        // A state-saturation exit that never passes must not change the answer: the final logits are the full model's.
        using var engine = ReferenceEngine.Load(Stories, Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"stateSaturation\", \"threshold\": 1.5 }, { \"afterStep\": 3, \"criterion\": \"learned\", \"probe\": \"" + Probe(-20, new float[64]) + "\", \"threshold\": 0.5 } ]"));
        using var session = engine.CreateSession(64);
        var (_, fullLogits) = FullRun(8);
        var logits = Generate(session, 8);
        for (var i = 0; i < 8; i++) Assert.Equal(fullLogits[i], logits[i]);
        Assert.Equal(0, session.Statistics.ExitsPerStep.ToArray().Sum());
    }

    [Fact]
    public void A_learned_probe_with_a_large_bias_always_exits_and_with_a_negative_one_never()
    {
        var always = Probe(20, new float[64]);
        var never = Probe(-20, new float[64]);
        using var exits = ReferenceEngine.Load(Stories, Plan($"\"exits\": [ {{ \"afterStep\": 2, \"criterion\": \"learned\", \"probe\": \"{always}\", \"threshold\": 0.9 }} ]"));
        using var stays = ReferenceEngine.Load(Stories, Plan($"\"exits\": [ {{ \"afterStep\": 2, \"criterion\": \"learned\", \"probe\": \"{never}\", \"threshold\": 0.1 }} ]"));
        var s1 = exits.CreateSession(64);
        var s2 = stays.CreateSession(64);
        Generate(s1, 10);
        Generate(s2, 10);
        Assert.Equal(10, s1.Statistics.ExitsPerStep[2]);
        Assert.Equal(30, s1.Statistics.GeneratedSteps);
        Assert.Equal(0, s2.Statistics.ExitsPerStep[2]);
        Assert.Equal(50, s2.Statistics.GeneratedSteps);
    }

    [Fact]
    public void Patience_1_always_leaves_at_the_first_exit_point()
    {
        using var engine = ReferenceEngine.Load(Stories, Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"patience\", \"patience\": 1 }, { \"afterStep\": 2, \"criterion\": \"patience\", \"patience\": 1 } ]"));
        var session = engine.CreateSession(64);
        Generate(session, 6);
        Assert.Equal(6, session.Statistics.ExitsPerStep[1]);
    }

    [Fact]
    public void Lossless_generated_tokens_ignore_exits_and_are_the_full_model()
    {
        using var engine = ReferenceEngine.Load(Stories, Plan("\"exits\": [ { \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0 } ], \"kvFill\": \"lossless\", \"speculation\": { \"draftSteps\": 2, \"draftTokens\": 4 }"));
        var session = engine.CreateSession(64);
        var (_, fullLogits) = FullRun(8);
        var logits = Generate(session, 8);
        for (var i = 0; i < 8; i++) Assert.Equal(fullLogits[i], logits[i]);
        Assert.Equal(40, session.Statistics.GeneratedSteps);
    }

    [Fact]
    public void A_schedule_without_its_probes_or_with_a_probe_of_another_width_is_refused_at_load()
    {
        var plan = new Planning.LayerPlan { Exits = new[] { new Planning.ExitPoint(1, Planning.ExitTest.OfLearned("a.probe.json", 0.5)) }.ToEquatableArray() };
        var bare = Planning.ExecutionSchedule.Resolve(plan, 5);
        var e = Assert.Throws<InvalidOperationException>(() => new ReferenceEngine(_weights, bare));
        Assert.Contains("a.probe.json", e.Message);

        var narrow = bare with { Probes = new[] { new Planning.LinearProbe("a.probe.json", 0, new float[8].ToEquatableArray()) }.ToEquatableArray() };
        Assert.Throws<ArgumentException>(() => new ReferenceEngine(_weights, narrow));
    }

    public override void Dispose()
    {
        _oracleEngine.Dispose();
        base.Dispose();
    }
}
