using SpecializedInfer.Engine;

namespace SpecializedInfer.Generator.Tests.Support;

/// <summary>Records what an observer sees: (position, step, layer) and a copy of the hidden state.</summary>
public sealed class RecordingObserver : ILayerObserver
{
    public List<(int Position, int Step, int Layer, float[] Hidden)> Calls { get; } = [];

    public void OnLayerOutput(int position, int step, int layer, ReadOnlySpan<float> hidden) => Calls.Add((position, step, layer, hidden.ToArray()));
}

/// <summary>Runs a generated engine and the reference engine side by side on one token sequence.</summary>
public static class Comparison
{
    public const float Tolerance = 1e-4f;

    public static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        var max = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            var d = MathF.Abs(a[i] - b[i]);
            if (!(d <= max)) max = d; // NaN propagates
        }
        return max;
    }

    public static int ArgMax(ReadOnlySpan<float> v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /// <summary>
    /// 64 positions: 8 prompt tokens through Forward(span), 48 generated tokens through Forward(int), then 8 more
    /// through Forward(span) one at a time (full depth after tokens that may have exited). Each next token is the
    /// reference's argmax (teacher forcing), so both engines always see the same sequence. Returns the worst
    /// logit difference; asserts it and the statistics and the observer calls along the way.
    /// </summary>
    public static (float Worst, SessionStatistics Statistics) Run(ILanguageModel generated, ILanguageModel reference, int vocab, bool observe = true, int positions = 64)
    {
        using var g = generated.CreateSession(positions);
        using var r = reference.CreateSession(positions);
        var go = new RecordingObserver();
        var ro = new RecordingObserver();
        if (observe) { g.Observer = go; r.Observer = ro; }

        var worst = 0f;
        void Check(ReadOnlySpan<float> a, ReadOnlySpan<float> b, string what)
        {
            var d = MaxAbsDiff(a, b);
            Assert.True(d <= Tolerance, $"{what}: logits differ by {d} (tolerance {Tolerance})");
            worst = MathF.Max(worst, d);
        }

        int[] prompt = [1, 403 % vocab, 407 % vocab, 261 % vocab, 378 % vocab, 13, 30, 72];
        var expected = r.Forward(prompt).ToArray();
        Check(g.Forward(prompt), expected, "prompt");
        for (var pos = prompt.Length; pos < positions; pos++)
        {
            var token = ArgMax(expected);
            if (pos < positions - 8)
            {
                expected = r.Forward(token).ToArray();
                Check(g.Forward(token), expected, $"generated token at {pos}");
            }
            else
            {
                expected = r.Forward([token]).ToArray();
                Check(g.Forward([token]), expected, $"full-depth token at {pos}");
            }
        }

        Assert.Equal(r.Position, g.Position);
        var (gs, rs) = (g.Statistics, r.Statistics);
        Assert.Equal(rs.PromptTokens, gs.PromptTokens);
        Assert.Equal(rs.GeneratedTokens, gs.GeneratedTokens);
        Assert.Equal(rs.StepsHistogram.ToArray(), gs.StepsHistogram.ToArray());
        Assert.Equal(rs.ExitsPerStep.ToArray(), gs.ExitsPerStep.ToArray());
        Assert.Equal(rs.GeneratedSteps, gs.GeneratedSteps);
        Assert.Equal(rs.SkipsPerStep.ToArray(), gs.SkipsPerStep.ToArray());
        Assert.Equal(rs.RecomputedSteps, gs.RecomputedSteps);

        if (observe)
        {
            // The same calls; their order may differ within a prompt chunk (the reference runs each step for up to 16
            // prompt positions before the next step), so compare them ordered by position, then step.
            var expectedCalls = ro.Calls.OrderBy(c => c.Position).ThenBy(c => c.Step).ToList();
            var actualCalls = go.Calls.OrderBy(c => c.Position).ThenBy(c => c.Step).ToList();
            Assert.Equal(expectedCalls.Select(c => (c.Position, c.Step, c.Layer)), actualCalls.Select(c => (c.Position, c.Step, c.Layer)));
            for (var i = 0; i < expectedCalls.Count; i++)
                Assert.True(MaxAbsDiff(actualCalls[i].Hidden, expectedCalls[i].Hidden) <= 1e-3f,
                    $"hidden state after step {expectedCalls[i].Step} at position {expectedCalls[i].Position} differs");
        }
        return (worst, gs);
    }
}
