using SpecializedInfer.Learning.Search;

namespace SpecializedInfer.Tests.Search;

/// <summary>The Pareto front against a brute-force definition: nothing on it is dominated, everything off it is.</summary>
public sealed class ParetoFrontTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void The_front_is_exactly_the_non_dominated_points(int seed)
    {
        var random = new Random(seed);
        // Coarse values, so ties in speed, in agreement and in both occur.
        var points = Enumerable.Range(0, 60).Select(_ => (Speed: random.Next(0, 12) / 4.0, Agreement: random.Next(0, 12) / 10.0)).ToList();
        var front = ParetoFront.Of(points, p => p.Speed, p => p.Agreement);

        static bool Dominated((double Speed, double Agreement) p, IEnumerable<(double Speed, double Agreement)> others) =>
            others.Any(o => o.Speed >= p.Speed && o.Agreement >= p.Agreement && (o.Speed > p.Speed || o.Agreement > p.Agreement));
        Assert.All(front, p => Assert.False(Dominated(p, points)));
        foreach (var p in points.Where(p => !Dominated(p, points)))
            Assert.Contains(p, front);                                          // every non-dominated value is on it, once
        Assert.Equal(front.Count, front.Distinct().Count());
        Assert.Equal(front.OrderByDescending(p => p.Speed), front);             // fastest first
    }

    [Fact]
    public void A_single_point_is_its_own_front_and_an_empty_set_has_none()
    {
        Assert.Equal([(1.0, 0.5)], ParetoFront.Of([(1.0, 0.5)], p => p.Item1, p => p.Item2));
        Assert.Empty(ParetoFront.Of(Array.Empty<(double, double)>(), p => p.Item1, p => p.Item2));
    }
}
