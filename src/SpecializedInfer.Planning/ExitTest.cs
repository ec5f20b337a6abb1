using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace SpecializedInfer.Planning;

/// <summary>How an exit point decides that a token is done. docs/plans.md defines each exactly.</summary>
public enum ExitCriterion
{
    /// <summary>The largest softmax probability of the exit head's logits is at least the threshold.</summary>
    MaxProbability,

    /// <summary>The top-1 minus the top-2 softmax probability is at least the threshold.</summary>
    Margin,

    /// <summary>The entropy (in nats) of the exit head's softmax is at most the threshold.</summary>
    Entropy,

    /// <summary>
    /// CALM's state measure, no head needed: the cosine between the hidden state here and at the previous exit point
    /// (at the first one: the state entering this step) is at least the threshold.
    /// </summary>
    StateSaturation,

    /// <summary>PABEE: the exit head's argmax is the same at this and the previous <see cref="ExitTest.Patience"/> − 1 exit points that computed a head.</summary>
    Patience,

    /// <summary>At least <see cref="ExitTest.Votes"/> of <see cref="ExitTest.Members"/> pass.</summary>
    Ensemble,

    /// <summary>A linear probe on the RMS-normalized hidden state, sigmoid(w·x̂ + b), is at least the threshold (no head needed).</summary>
    Learned,

    /// <summary>
    /// Encoders only: the cosine between a sentence's pooled embedding after this step and after the step before (at
    /// step 0: the embedding layer's output) is at least the threshold (<see cref="EncoderExits"/>).
    /// </summary>
    EmbeddingCosine,
}

/// <summary>
/// One exit test: a criterion and its parameters. <see cref="Threshold"/> is unused by patience and ensembles,
/// <see cref="Patience"/> is used by patience, <see cref="Votes"/>/<see cref="Members"/> by ensembles, <see cref="Probe"/>
/// (the sidecar file as written in the plan) by learned tests.
/// </summary>
public sealed record ExitTest(ExitCriterion Criterion, double Threshold, int Patience, int Votes, IReadOnlyList<ExitTest> Members, string? Probe)
{
    // An equatable field, so tests with the same members are equal.
    private readonly EquatableArray<ExitTest> _members = Members.ToEquatableArray();

    public IReadOnlyList<ExitTest> Members { get => _members; init => _members = value.ToEquatableArray(); }

    public static ExitTest Of(ExitCriterion criterion, double threshold) =>
        new(criterion, threshold, 0, 0, EquatableArray<ExitTest>.Empty, null);

    public static ExitTest OfPatience(int patience) => new(ExitCriterion.Patience, 0, patience, 0, EquatableArray<ExitTest>.Empty, null);

    public static ExitTest OfLearned(string probe, double threshold) => new(ExitCriterion.Learned, threshold, 0, 0, EquatableArray<ExitTest>.Empty, probe);

    public static ExitTest OfEnsemble(int votes, params ExitTest[] members) =>
        new(ExitCriterion.Ensemble, 0, 0, votes, members.ToEquatableArray(), null);

    /// <summary>
    /// True when deciding needs the exit head's logits. State saturation and learned probes read the hidden state
    /// only, so an exit point with just those computes no head unless the token leaves.
    /// </summary>
    public bool NeedsHead => Criterion switch
    {
        ExitCriterion.StateSaturation or ExitCriterion.Learned or ExitCriterion.EmbeddingCosine => false,
        ExitCriterion.Ensemble => Members.Any(m => m.NeedsHead),
        _ => true,
    };

    /// <summary>Every probe file this test names.</summary>
    public System.Collections.Generic.IEnumerable<string> ProbeFiles =>
        Criterion == ExitCriterion.Ensemble ? Members.SelectMany(m => m.ProbeFiles) : Probe is null ? Enumerable.Empty<string>() : new[] { Probe };

    /// <summary>"max p ≥ 0.9", "entropy ≤ 1.5", "patience 3", "2 of (…)".</summary>
    public string Describe() => Criterion switch
    {
        ExitCriterion.MaxProbability => $"max p ≥ {F(Threshold)}",
        ExitCriterion.Margin => $"margin ≥ {F(Threshold)}",
        ExitCriterion.Entropy => $"entropy ≤ {F(Threshold)}",
        ExitCriterion.StateSaturation => $"state cos ≥ {F(Threshold)}",
        ExitCriterion.Patience => $"patience {Patience}",
        ExitCriterion.Learned => $"probe {Probe} ≥ {F(Threshold)}",
        ExitCriterion.EmbeddingCosine => $"embedding cos ≥ {F(Threshold)}",
        // At most a few members by name: the description goes into one-line summaries and messages.
        ExitCriterion.Ensemble => $"{Votes} of ({string.Join(", ", Members.Take(DescribedMembers).Select(m => m.Describe()))}{(Members.Count > DescribedMembers ? string.Format(CultureInfo.InvariantCulture, ", and {0:N0} more", Members.Count - DescribedMembers) : "")})",
        _ => Criterion.ToString(),
    };

    private const int DescribedMembers = 8;

    private static string F(double d) => d.ToString("R", CultureInfo.InvariantCulture);
}
