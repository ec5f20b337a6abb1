using SpecializedInfer.Learning.Calibration;

namespace SpecializedInfer.Tests.Learning;

/// <summary>
/// The guarantee, simulated: candidates with a known disagreement-rate curve, calibration tokens drawn anew each time,
/// and the chosen candidate's true rate compared with the target. Fixed-sequence testing must pick a candidate whose
/// rate is within the target in at least 1 − δ of the draws; picking by the measured rate alone must not.
/// </summary>
public sealed class FixedSequenceTestTests
{
    private const double MaxRate = 0.05, Delta = 0.1;
    private const int Tokens = 800, Draws = 2000;

    /// <summary>Candidate j of 0..100 (strict to loose) disagrees at rate 0.2·(j/100)²: 0.05 is crossed at j = 50.</summary>
    private static double TrueRate(int j) => 0.2 * (j / 100.0) * (j / 100.0);

    /// <summary>
    /// One draw of the calibration data: each token has a uniform u, and disagrees under candidate j when u &lt; rate(j),
    /// so every candidate is measured on the same tokens and looser candidates disagree wherever stricter ones do, as
    /// with real exit thresholds.
    /// </summary>
    private static double[] Draw(Random random) => Enumerable.Range(0, Tokens).Select(_ => random.NextDouble()).ToArray();

    private static int Count(double[] u, int j) => u.Count(v => v < TrueRate(j));

    [Fact]
    public void The_chosen_candidate_meets_the_target_in_at_least_one_minus_delta_of_draws()
    {
        var random = new Random(2024);
        int violations = 0, naiveViolations = 0, chosenSum = 0;
        for (var d = 0; d < Draws; d++)
        {
            var u = Draw(random);
            var result = FixedSequenceTest.Run(Enumerable.Range(0, 101), Tokens, MaxRate, Delta, (j, _) => Count(u, j));
            var chosen = result.Chosen?.Candidate ?? -1;
            if (chosen >= 0 && TrueRate(chosen) > MaxRate) violations++;
            chosenSum += Math.Max(chosen, 0);
            // The tempting shortcut: the loosest candidate whose measured rate is within the target.
            var naive = Enumerable.Range(0, 101).Last(j => Count(u, j) <= MaxRate * Tokens);
            if (TrueRate(naive) > MaxRate) naiveViolations++;
        }
        Assert.True(violations <= Delta * Draws, $"{violations} of {Draws} draws chose a candidate above the target rate");
        Assert.True(naiveViolations > 3 * Delta * Draws, $"the naive rule violated only {naiveViolations} times: the simulation has no power");
        // Not vacuous: the candidates chosen sit close below the crossing (j = 50), not at the strict end.
        Assert.InRange(chosenSum / (double)Draws, 35, 50);
    }

    [Fact]
    public void Testing_stops_at_the_first_candidate_not_rejected_and_picks_the_one_before()
    {
        // Disagreements per candidate: 0, 10, 20, 60 (fails), 15 (would pass again: never tested).
        int[] counts = [0, 10, 20, 60, 15];
        var asked = new List<int>();
        var result = FixedSequenceTest.Run(Enumerable.Range(0, counts.Length), 1000, 0.05, 0.05, (j, critical) =>
        {
            asked.Add(j);
            Assert.Equal(BinomialTail.CriticalCount(1000, 0.05, 0.05), critical);
            return counts[j];
        });
        Assert.Equal([0, 1, 2, 3], asked);
        Assert.Equal(2, result.Chosen!.Candidate);
        Assert.False(result.Tested[^1].Rejected);
        Assert.All(result.Tested.Take(3), t => Assert.True(t.Rejected && t.PValue <= 0.05));
    }

    [Fact]
    public void Nothing_is_chosen_when_the_strictest_candidate_fails_or_the_data_is_too_small()
    {
        Assert.Null(FixedSequenceTest.Run([0, 1], 1000, 0.05, 0.05, (_, _) => 100).Chosen);
        var tooSmall = FixedSequenceTest.Run([0, 1], 100, 0.01, 0.05, (_, _) => throw new InvalidOperationException("never measured"));
        Assert.Null(tooSmall.Chosen);
        Assert.Equal(-1, tooSmall.CriticalCount);
    }
}
