using MathNet.Numerics.LinearAlgebra;
using SpecializedInfer.Engine;
using SpecializedInfer.Evaluation;
using SpecializedInfer.Tracing;

namespace SpecializedInfer.Learning;

/// <summary>
/// Fits, for every step a <see cref="TeacherForcedTrace"/> recorded, what an exit there needs, from the model's own
/// behaviour (self-distillation; nothing but the trace is read):
/// <list type="bullet">
/// <item>an <b>exit head</b> <c>{norm, output}</c> in the plan format: norm weight 1 and output matrix W·diag(g)·Aᵀ,
/// where A is the ridge regression from the exit's RMS-normalized state x̂ to the full model's normalized final state
/// g ⊙ x̂_L, and W, g the model's output matrix and final norm. Ridge from x̂ straight to the full model's logits gives
/// the same matrix (the least-squares solution is linear in the targets, and the logits are W·(g ⊙ x̂_L)), at the cost
/// of a dim-square instead of a vocab-wide system;</item>
/// <item>a <b>probe</b> (CALM's meta classifier, BERxiT's learned exit): logistic regression on x̂ predicting that the
/// exit's argmax through the model's head equals the full model's, and a second one for the learned head.</item>
/// </list>
/// Positions of held-out groups (<see cref="LearnOptions.IsHeldOut"/>) are never fitted on; every reported figure
/// is measured on them, with the engines' own arithmetic (<see cref="HeadProjection"/>, <see cref="ExitMeasures"/>).
/// </summary>
public static class ExitLearner
{
    public static LearnedExits Learn(TeacherForcedTrace trace, HeadProjection modelHead, float normEps, LearnOptions? options = null,
        IProgress<EvaluationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(modelHead);
        options ??= new LearnOptions();
        if (modelHead.Dim != trace.Dim) throw new ArgumentException($"The head reads width {modelHead.Dim}; the trace has {trace.Dim}.");
        var heldOut = Enumerable.Range(0, trace.Count).Select(p => options.IsHeldOut(trace.Group(p))).ToArray();
        var training = heldOut.Count(h => !h);
        if (training == 0 || training == trace.Count)
            throw new ArgumentException($"The trace's {trace.Count} positions must fall into both splits (every {options.HeldOutEvery}th group is held out); trace more prompts.");

        var exits = new List<LearnedExit>();
        for (var slot = 0; slot < trace.Steps.Count; slot++)
        {
            exits.Add(LearnExit(trace, slot, modelHead, normEps, options, heldOut));
            progress?.Report(new EvaluationProgress("fit", slot + 1, trace.Steps.Count));
        }
        return new LearnedExits(exits, training, trace.Count - training);
    }

    private static LearnedExit LearnExit(TeacherForcedTrace trace, int slot, HeadProjection modelHead, float eps, LearnOptions options, bool[] heldOut)
    {
        var dim = trace.Dim;
        var model = Decide(trace, slot, modelHead);

        var head = options.HeadKind == ExitHeadKind.Adapter
            ? FitAdapterHead(trace, slot, modelHead, eps, options, heldOut)
            : FitFullHead(trace, slot, modelHead, eps, options, heldOut);
        var learned = Decide(trace, slot, head);

        return new LearnedExit(trace.Steps[slot],
            FitProbe(trace, slot, model, eps, options, heldOut),
            head,
            FitProbe(trace, slot, learned, eps, options, heldOut),
            Agreement(model.Agrees, heldOut),
            Agreement(learned.Agrees, heldOut));
    }

    /// <summary>The full head: ridge from x̂ (exit) to g ⊙ x̂ (final), on training positions, folded into W.</summary>
    private static HeadProjection FitFullHead(TeacherForcedTrace trace, int slot, HeadProjection modelHead, float eps, LearnOptions options, bool[] heldOut)
    {
        var dim = trace.Dim;
        var ridge = new RidgeRegression(dim, dim);
        var x = new double[dim];
        var y = new double[dim];
        var g = modelHead.Norm;
        for (var p = 0; p < trace.Count; p++)
        {
            if (heldOut[p]) continue;
            Normalize(trace.State(slot, p), eps, x);
            Normalize(trace.FinalState(p), eps, y);
            for (var i = 0; i < dim; i++) y[i] *= g[i];
            ridge.Add(x, y);
        }
        var a = ridge.Solve(options.HeadRidge * ridge.MeanSquaredInput); // y ≈ Aᵀ x, A: [dim_in × dim_out]
        var output = new float[modelHead.Vocab * dim];
        var w = modelHead.Output;
        for (var v = 0; v < modelHead.Vocab; v++)
        {
            var row = w.Slice(v * dim, dim);
            for (var i = 0; i < dim; i++)
            {
                double sum = 0;
                for (var k = 0; k < dim; k++) sum += row[k] * a[i, k];
                output[v * dim + i] = (float)sum;
            }
        }
        return new HeadProjection(Enumerable.Repeat(1f, dim).ToArray(), output, eps);
    }

    /// <summary>
    /// The adapter head: ridge from [x̂, 1] (exit, plus a constant for the bias) to x̂ (final), on training positions;
    /// the model's own g and W follow it. x̂ of the final state has RMS 1, so the adapted state lands at the scale the
    /// final norm expects.
    /// </summary>
    private static HeadProjection FitAdapterHead(TeacherForcedTrace trace, int slot, HeadProjection modelHead, float eps, LearnOptions options, bool[] heldOut)
    {
        var dim = trace.Dim;
        var ridge = new RidgeRegression(dim + 1, dim);
        var x = new double[dim + 1];
        var y = new double[dim];
        for (var p = 0; p < trace.Count; p++)
        {
            if (heldOut[p]) continue;
            Normalize(trace.State(slot, p), eps, x.AsSpan(0, dim));
            x[dim] = 1;
            Normalize(trace.FinalState(p), eps, y);
            ridge.Add(x, y);
        }
        var a = ridge.Solve(options.HeadRidge * ridge.MeanSquaredInput); // y ≈ Aᵀ [x̂, 1], A: [(dim + 1) × dim]
        var weight = new float[dim * dim];
        var bias = new float[dim];
        for (var o = 0; o < dim; o++)
        {
            for (var i = 0; i < dim; i++) weight[o * dim + i] = (float)a[i, o];
            bias[o] = (float)a[dim, o];
        }
        var adapter = new FittedAdapter(Enumerable.Repeat(1f, dim).ToArray(), weight, bias);
        return new HeadProjection(modelHead.Norm, modelHead.Output, eps, adapter);
    }

    /// <summary>Per position: whether the head's argmax on the exit's state is the full model's token, and its max probability.</summary>
    private static (bool[] Agrees, double[] MaxProbability) Decide(TeacherForcedTrace trace, int slot, HeadProjection head)
    {
        var agrees = new bool[trace.Count];
        var maxP = new double[trace.Count];
        var logits = new float[head.Vocab];
        var scratch = new float[head.Vocab];
        for (var p = 0; p < trace.Count; p++)
        {
            head.Logits(trace.State(slot, p), logits);
            agrees[p] = ExitMeasures.ArgMax(logits) == trace.Target(p);
            maxP[p] = ExitMeasures.MaxProbability(logits, scratch);
        }
        return (agrees, maxP);
    }

    private static ProbeFit FitProbe(TeacherForcedTrace trace, int slot, (bool[] Agrees, double[] MaxProbability) decided, float eps, LearnOptions options, bool[] heldOut)
    {
        var dim = trace.Dim;
        var rows = Enumerable.Range(0, trace.Count).Where(p => !heldOut[p]).ToArray();
        var features = Matrix<double>.Build.Dense(rows.Length, dim);
        var x = new double[dim];
        for (var r = 0; r < rows.Length; r++)
        {
            Normalize(trace.State(slot, rows[r]), eps, x);
            for (var i = 0; i < dim; i++) features[r, i] = x[i];
        }
        var fit = LogisticRegression.Fit(features, rows.Select(p => decided.Agrees[p]).ToArray(), options.ProbeL2);
        var weights = fit.Weights.Select(v => (float)v).ToArray();
        var bias = (float)fit.Bias;

        // Held-out AUC of the probe as the engines compute it, and of the head's max probability.
        var held = Enumerable.Range(0, trace.Count).Where(p => heldOut[p]).ToArray();
        var labels = held.Select(p => decided.Agrees[p]).ToArray();
        var probe = held.Select(p => (double)ExitMeasures.Probe(trace.State(slot, p), weights, bias, eps)).ToArray();
        var baseline = held.Select(p => decided.MaxProbability[p]).ToArray();
        return new ProbeFit(bias, weights, RocAuc.Compute(probe, labels), RocAuc.Compute(baseline, labels),
            labels.Count(l => l), labels.Length, fit.Iterations);
    }

    private static AgreementCount Agreement(bool[] agrees, bool[] heldOut)
    {
        int n = 0, k = 0;
        for (var p = 0; p < agrees.Length; p++)
            if (heldOut[p]) { n++; if (agrees[p]) k++; }
        return new AgreementCount(k, n);
    }

    /// <summary>x̂ = h / sqrt(mean(h²) + eps), in double: what the probes and the exit head's norm read.</summary>
    internal static void Normalize(ReadOnlySpan<float> h, float eps, Span<double> x)
    {
        double sum = 0;
        foreach (var v in h) sum += (double)v * v;
        var scale = 1 / Math.Sqrt(sum / h.Length + eps);
        for (var i = 0; i < h.Length; i++) x[i] = h[i] * scale;
    }
}
