namespace SpecializedInfer.Learning.Calibration;

/// <summary>One tested candidate: its disagreements among the tokens, its p-value, and whether H0 was rejected.</summary>
/// <remarks>When the count passed the critical one, counting stopped (<see cref="Stopped"/>): the count and p-value are then
/// lower bounds, which already decide the test.</remarks>
public sealed record CandidateOutcome<T>(T Candidate, int Tokens, int Disagreements, double PValue, bool Rejected, bool Stopped);

/// <summary>
/// The tested candidates in order, ending at the first one not rejected (or with the last candidate), and the chosen
/// one: the last rejected, or null when the first was not.
/// </summary>
public sealed record FixedSequenceResult<T>(IReadOnlyList<CandidateOutcome<T>> Tested, CandidateOutcome<T>? Chosen, int Tokens, int CriticalCount);

/// <summary>
/// Learn-then-Test (Angelopoulos et al. 2021) with fixed-sequence testing, as CALM calibrates exit thresholds
/// (Schuster et al. 2022, §4): candidates ordered from strict to loose, each tested for H0 "disagreement rate &gt;
/// <c>maxRate</c>" with the exact binomial p-value on the same n calibration tokens; testing stops at the first
/// candidate not rejected at level δ, and the last rejected one is chosen. Fixed-sequence testing controls the
/// family-wise error at δ without a multiplicity correction, so with probability at least 1 − δ over the draw of the
/// calibration tokens the chosen candidate's true disagreement rate is at most <c>maxRate</c> (tokens drawn
/// independently from the distribution the plan will meet).
/// </summary>
public static class FixedSequenceTest
{
    /// <param name="candidates">strict to loose</param>
    /// <param name="tokens">n, the calibration tokens every candidate is measured on</param>
    /// <param name="maxRate">the disagreement rate H0 says is exceeded (1 − target agreement)</param>
    /// <param name="delta">the level: the chance of certifying a candidate whose true rate is above <paramref name="maxRate"/></param>
    /// <param name="disagreements">counts a candidate's disagreements; it may stop once the count exceeds the second argument</param>
    public static FixedSequenceResult<T> Run<T>(IEnumerable<T> candidates, int tokens, double maxRate, double delta, Func<T, int, int> disagreements)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(disagreements);
        var critical = BinomialTail.CriticalCount(tokens, maxRate, delta);
        var tested = new List<CandidateOutcome<T>>();
        CandidateOutcome<T>? chosen = null;
        if (critical < 0) return new FixedSequenceResult<T>(tested, null, tokens, critical);
        foreach (var candidate in candidates)
        {
            var k = disagreements(candidate, critical);
            if (k < 0 || k > tokens) throw new InvalidOperationException($"A candidate was counted with {k} disagreements among {tokens} tokens.");
            var p = BinomialTail.PValue(k, tokens, maxRate);
            var outcome = new CandidateOutcome<T>(candidate, tokens, k, p, Rejected: p <= delta, Stopped: k > critical);
            tested.Add(outcome);
            if (!outcome.Rejected) break;
            chosen = outcome;
        }
        return new FixedSequenceResult<T>(tested, chosen, tokens, critical);
    }
}
