using System.Globalization;
using MathNet.Numerics.LinearAlgebra;

namespace SpecializedInfer.Learning;

/// <summary>A fitted logistic model: P(label) = sigmoid(<see cref="Bias"/> + <see cref="Weights"/>·x).</summary>
public sealed record LogisticModel(double Bias, double[] Weights, int Iterations)
{
    public double Score(ReadOnlySpan<double> x)
    {
        var z = Bias;
        for (var i = 0; i < Weights.Length; i++) z += Weights[i] * x[i];
        return 1 / (1 + Math.Exp(-z));
    }
}

/// <summary>
/// L2-regularized logistic regression by Newton's method (iteratively reweighted least squares), each step a
/// Cholesky solve of the (d + 1)-square Hessian with MathNet, halved until the penalized log-likelihood improves.
/// The penalty (<c>l2</c>/2)·|w|² leaves the bias free. Deterministic, and exact to the convergence tolerance: the
/// objective is strictly convex, so there is one optimum whatever the start.
/// </summary>
public static class LogisticRegression
{
    public static LogisticModel Fit(Matrix<double> features, IReadOnlyList<bool> labels, double l2, int maxIterations = 100, double tolerance = 1e-10)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        var n = features.RowCount;
        var d = features.ColumnCount;
        if (labels.Count != n) throw new ArgumentException($"{labels.Count} labels for {n} rows.");
        if (n == 0) throw new ArgumentException("No examples to fit.");
        if (!(l2 >= 0)) throw new ArgumentOutOfRangeException(string.Create(CultureInfo.InvariantCulture, $"The L2 penalty must be at least 0, not {l2}."), innerException: null);

        // Design matrix with the bias as column 0.
        var x = Matrix<double>.Build.Dense(n, d + 1, (i, j) => j == 0 ? 1 : features[i, j - 1]);
        var y = Vector<double>.Build.Dense(n, i => labels[i] ? 1 : 0);
        var penalty = Vector<double>.Build.Dense(d + 1, j => j == 0 ? 0 : l2);
        var beta = Vector<double>.Build.Dense(d + 1);
        var objective = Objective(x, y, beta, penalty);
        var iterations = 0;
        while (iterations < maxIterations)
        {
            iterations++;
            var z = x * beta;
            var p = z.Map(Sigmoid);
            var gradient = x.TransposeThisAndMultiply(p - y) + penalty.PointwiseMultiply(beta);
            var weighted = Matrix<double>.Build.Dense(n, d + 1, (i, j) => x[i, j] * Math.Max(p[i] * (1 - p[i]), 1e-12));
            var hessian = x.TransposeThisAndMultiply(weighted) + Matrix<double>.Build.DiagonalOfDiagonalVector(penalty);
            // A tiny ridge keeps the solve defined when an unpenalized direction (the bias) has no curvature left.
            for (var j = 0; j <= d; j++) hessian[j, j] += 1e-12 * n;
            var step = hessian.Cholesky().Solve(gradient);
            var scale = 1.0;
            Vector<double> next;
            double nextObjective;
            while (true)
            {
                next = beta - scale * step;
                nextObjective = Objective(x, y, next, penalty);
                if (nextObjective <= objective || scale < 1e-8) break;
                scale /= 2;
            }
            var change = (next - beta).InfinityNorm();
            beta = next;
            var improvement = objective - nextObjective;
            objective = nextObjective;
            if (change < tolerance || improvement < tolerance * Math.Max(1, Math.Abs(objective))) break;
        }
        return new LogisticModel(beta[0], beta.SubVector(1, d).ToArray(), iterations);
    }

    private static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    /// <summary>Negative log-likelihood plus the penalty, computed stably (log(1 + e^z) without overflow).</summary>
    private static double Objective(Matrix<double> x, Vector<double> y, Vector<double> beta, Vector<double> penalty)
    {
        var z = x * beta;
        double nll = 0;
        for (var i = 0; i < z.Count; i++)
        {
            var softplus = z[i] > 0 ? z[i] + Math.Log(1 + Math.Exp(-z[i])) : Math.Log(1 + Math.Exp(z[i]));
            nll += softplus - y[i] * z[i];
        }
        return nll + 0.5 * penalty.PointwiseMultiply(beta).DotProduct(beta);
    }
}
