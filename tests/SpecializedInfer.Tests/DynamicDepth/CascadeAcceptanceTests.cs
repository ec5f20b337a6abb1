using SpecializedInfer.Engine;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Tests.DynamicDepth;

/// <summary>Cascade acceptance from exit tests, against softmax measures computed here in double precision.</summary>
public sealed class CascadeAcceptanceTests : DynamicDepthTestBase
{
    private static IEnumerable<float[]> RandomLogits()
    {
        var random = new Random(3);
        for (var n = 0; n < 60; n++)
        {
            var spread = 0.5 + n * 0.2; // from flat to peaked distributions
            yield return Enumerable.Range(0, 512).Select(_ => (float)(random.NextDouble() * spread * 4 - spread * 2)).ToArray();
        }
    }

    [Theory]
    [InlineData("maxProbability", 0.05)]
    [InlineData("margin", 0.02)]
    [InlineData("entropy", 4.0)]
    public void Accept_applies_the_criterion_to_the_first_engines_logits(string name, double threshold)
    {
        var criterion = Enum.Parse<ExitCriterion>(name, ignoreCase: true);
        var accept = Cascade.Accept(ExitTest.Of(criterion, threshold));
        int passed = 0, decided = 0;
        foreach (var logits in RandomLogits())
        {
            var l = logits.Select(v => (double)v).ToArray();
            var m = name switch { "maxProbability" => MaxProbability(l), "margin" => Margin(l), _ => Entropy(l) };
            if (Math.Abs(m - threshold) < 1e-5) continue;
            var expected = name == "entropy" ? m <= threshold : m >= threshold;
            Assert.Equal(expected, accept(logits));
            decided++;
            if (expected) passed++;
        }
        Assert.InRange(passed, 1, decided - 1);
    }

    [Fact]
    public void An_ensemble_of_logit_tests_needs_its_votes()
    {
        var accept = Cascade.Accept(ExitTest.OfEnsemble(2, ExitTest.Of(ExitCriterion.MaxProbability, 0.05), ExitTest.Of(ExitCriterion.Entropy, 4.0), ExitTest.Of(ExitCriterion.Margin, 0.02)));
        foreach (var logits in RandomLogits())
        {
            var l = logits.Select(v => (double)v).ToArray();
            var votes = (MaxProbability(l) >= 0.05 ? 1 : 0) + (Entropy(l) <= 4.0 ? 1 : 0) + (Margin(l) >= 0.02 ? 1 : 0);
            Assert.Equal(votes >= 2, accept(logits));
        }
    }

    [Fact]
    public void MaxProbability_is_the_max_probability_test()
    {
        foreach (var logits in RandomLogits())
        {
            var p = MaxProbability(logits.Select(v => (double)v).ToArray());
            if (Math.Abs(p - 0.05) > 1e-5) Assert.Equal(p >= 0.05, Cascade.MaxProbability(0.05)(logits));
        }
    }

    public static TheoryData<ExitTest> Refused() => new()
    {
        ExitTest.Of(ExitCriterion.StateSaturation, 0.9),
        ExitTest.OfPatience(2),
        ExitTest.OfLearned("x.probe.json", 0.5),
        ExitTest.OfEnsemble(1, ExitTest.Of(ExitCriterion.MaxProbability, 0.5), ExitTest.Of(ExitCriterion.StateSaturation, 0.9)),
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Tests_that_need_more_than_logits_are_refused(ExitTest test)
    {
        var e = Assert.Throws<ArgumentException>(() => Cascade.Accept(test));
        Assert.Null(e.ParamName);
        Assert.Contains("final logits", e.Message);
        Assert.DoesNotContain("(Parameter", e.Message);
    }
}
