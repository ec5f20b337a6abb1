using SpecializedInfer.Tracing;

namespace SpecializedInfer.Learning;

/// <summary>Settings of <see cref="ExitLearner"/>.</summary>
public sealed record LearnOptions
{
    /// <summary>L2 penalty of the probes' logistic regression, on the summed log-loss (the bias is not penalized).</summary>
    public double ProbeL2 { get; init; } = 1.0;

    /// <summary>Ridge penalty of the exit heads, relative to the mean squared normalized input (XᵀX's mean diagonal).</summary>
    public double HeadRidge { get; init; } = 1e-3;

    /// <summary>What the exit heads are: a full output matrix each, or an adapter before the model's own head.</summary>
    public ExitHeadKind HeadKind { get; init; } = ExitHeadKind.Full;

    /// <summary>Groups (a prompt with all its continuations, a text window) whose number is 4 modulo 5 are held out.</summary>
    public int HeldOutEvery { get; init; } = 5;

    public bool IsHeldOut(int group) => group % HeldOutEvery == HeldOutEvery - 1;
}

/// <summary>The form of a learned exit head.</summary>
public enum ExitHeadKind
{
    /// <summary>Norm weight 1 and an output matrix of its own (vocab × dim): the ridge map folded into the model's output matrix.</summary>
    Full,

    /// <summary>
    /// A dim × dim adapter (+ bias) on the RMS-normalized exit state, fitted to the full model's normalized final state,
    /// in front of the model's own final norm and output matrix: dim² + dim values per exit instead of vocab × dim.
    /// </summary>
    Adapter,
}

/// <summary>How often an exit's greedy token equals the full model's, on held-out positions.</summary>
public readonly record struct AgreementCount(int Agreements, int Positions)
{
    public double Rate => Positions == 0 ? double.NaN : (double)Agreements / Positions;
}

/// <summary>
/// A learned probe (bias and weights on the RMS-normalized hidden state, the <c>*.probe.json</c> format) with its
/// held-out AUC for "this exit's head picks the full model's token", next to the AUC of the head's max probability.
/// </summary>
public sealed record ProbeFit(float Bias, float[] Weights, double HeldOutAuc, double MaxProbabilityAuc, int HeldOutPositives, int HeldOutPositions, int Iterations);

/// <summary>What was learned for the exit after one step: a probe for the model's head, an exit head and a probe for that head.</summary>
public sealed record LearnedExit(
    int Step,
    ProbeFit Probe,
    HeadProjection Head,
    ProbeFit HeadProbe,
    AgreementCount ModelHeadAgreement,
    AgreementCount LearnedHeadAgreement);

/// <summary>Everything <see cref="ExitLearner.Learn"/> fitted, with the sizes of the training and held-out splits.</summary>
public sealed record LearnedExits(IReadOnlyList<LearnedExit> Exits, int TrainingPositions, int HeldOutPositions);
