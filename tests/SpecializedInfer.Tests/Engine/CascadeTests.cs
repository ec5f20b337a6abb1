using SpecializedInfer.Engine;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Tests.Engine;

public sealed class CascadeTests
{
    private static string Stories => ModelLocator.Find("stories260K.gguf");
    private static readonly int[] Prompt = [1, 403, 407, 261, 378];
    private static readonly int[] Tokens = [32, 263, 293, 45, 400, 118, 99, 7, 260, 270, 300, 12];

    private static ReferenceEngine Shallow() =>
        ReferenceEngine.Load(Stories, ExecutionSchedule.Resolve(new LayerPlan { Order = new[] { 0, 1 }.ToEquatableArray() }, 5));

    [Fact]
    public void When_the_first_never_answers_the_cascade_is_the_second_engine()
    {
        using var first = Shallow();
        using var second = ReferenceEngine.Load(Stories);
        var cascade = new Cascade(first, second, _ => false);
        var session = (CascadeSession)cascade.CreateSession(64);
        var reference = second.CreateSession(64);
        Assert.Equal(reference.Forward(Prompt).ToArray(), session.Forward(Prompt).ToArray());
        foreach (var t in Tokens) Assert.Equal(reference.Forward([t]).ToArray(), session.Forward(t).ToArray());
        Assert.Equal(Tokens.Length, session.AnsweredBySecond);
    }

    [Fact]
    public void When_the_first_always_answers_the_cascade_is_the_first_engine()
    {
        using var first = Shallow();
        using var second = ReferenceEngine.Load(Stories);
        var session = (CascadeSession)new Cascade(first, second, _ => true).CreateSession(64);
        var reference = first.CreateSession(64);
        reference.Forward(Prompt);
        session.Forward(Prompt);
        foreach (var t in Tokens) Assert.Equal(reference.Forward(t).ToArray(), session.Forward(t).ToArray());
        Assert.Equal(0, session.AnsweredBySecond);
        Assert.Equal(2.0, session.Statistics.MeanStepsPerGeneratedToken);
    }

    [Fact]
    public void After_a_hand_off_the_second_engine_has_seen_every_token()
    {
        // Alternate: the second engine is needed every third token and must catch up on the ones in between.
        using var first = Shallow();
        using var second = ReferenceEngine.Load(Stories);
        var calls = 0;
        var session = (CascadeSession)new Cascade(first, second, _ => ++calls % 3 != 0).CreateSession(64);
        var reference = second.CreateSession(64);
        session.Forward(Prompt);
        reference.Forward(Prompt);
        foreach (var t in Tokens)
        {
            var expected = reference.Forward([t]).ToArray();
            var actual = session.Forward(t).ToArray();
            if (calls % 3 == 0) Assert.Equal(expected, actual);
        }
        Assert.Equal(session.Position, session.SecondSession.Position + (calls % 3 == 0 ? 0 : calls % 3));
        Assert.True(session.AnsweredBySecond >= 3);
    }

    [Fact]
    public void Rewind_keeps_both_caches_consistent()
    {
        using var first = Shallow();
        using var second = ReferenceEngine.Load(Stories);
        var session = new Cascade(first, second, _ => false).CreateSession(64);
        session.Forward(Prompt);
        foreach (var t in Tokens) session.Forward(t);
        session.Rewind(Prompt.Length + 2);
        var reference = second.CreateSession(64);
        reference.Forward(Prompt);
        reference.Forward([Tokens[0]]);
        reference.Forward([Tokens[1]]);
        Assert.Equal(reference.Forward([Tokens[5]]).ToArray(), session.Forward(Tokens[5]).ToArray());
    }

    [Fact]
    public void The_max_probability_acceptance_thresholds()
    {
        float[] sure = [10f, 0f, 0f];
        float[] unsure = [1f, 1f, 1f];
        Assert.True(Cascade.MaxProbability(0.9)(sure));
        Assert.False(Cascade.MaxProbability(0.9)(unsure));
        Assert.True(Cascade.MaxProbability(0.3)(unsure));
    }
}
