using MathNet.Numerics.LinearAlgebra;
using SpecializedInfer.Learning;

namespace SpecializedInfer.Tests.Learning;

/// <summary>
/// The fits on planted data: a logistic probe on RMS-normalized states drawn from a known probe, and a linear map with
/// and without noise. Oracles: the planted parameters, the optimality condition of the penalized objective computed
/// here, and ridge solved a second way (least squares on the augmented system [X; √λ I] by QR).
/// </summary>
public sealed class FitTests
{
    private const int Dim = 16;

    /// <summary>States h (scaled at random, as residual streams are), their x̂, and labels drawn from sigmoid(b + w·x̂).</summary>
    private static (double[][] X, bool[] Labels) Planted(int n, double bias, double[] w, Random random)
    {
        var x = new double[n][];
        var labels = new bool[n];
        for (var i = 0; i < n; i++)
        {
            var scale = 0.5 + 4 * random.NextDouble();
            var h = Enumerable.Range(0, Dim).Select(_ => scale * Gaussian(random)).Select(v => (float)v).ToArray();
            x[i] = new double[Dim];
            ExitLearner.Normalize(h, 1e-5f, x[i]);
            var z = bias + x[i].Zip(w, (a, b) => a * b).Sum();
            labels[i] = random.NextDouble() < 1 / (1 + Math.Exp(-z));
        }
        return (x, labels);
    }

    private static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    [Fact]
    public void The_logistic_fit_recovers_a_planted_probe()
    {
        var random = new Random(7);
        var w = Enumerable.Range(0, Dim).Select(_ => Gaussian(random)).ToArray();
        const double bias = -0.5;
        var (train, trainLabels) = Planted(20_000, bias, w, random);
        var (test, testLabels) = Planted(10_000, bias, w, random);

        var fit = LogisticRegression.Fit(Matrix<double>.Build.DenseOfRowArrays(train), trainLabels, l2: 1.0);

        var cosine = fit.Weights.Zip(w, (a, b) => a * b).Sum() / Math.Sqrt(fit.Weights.Sum(v => v * v) * w.Sum(v => v * v));
        Assert.True(cosine > 0.99, $"weight direction cosine {cosine}");
        Assert.InRange(fit.Bias, bias - 0.1, bias + 0.1);
        var norm = Math.Sqrt(fit.Weights.Sum(v => v * v)) / Math.Sqrt(w.Sum(v => v * v));
        Assert.InRange(norm, 0.9, 1.1);
        // On fresh data the fitted probe ranks as well as the planted one (the best any score can do here).
        var planted = RocAuc.Compute(test.Select(x => bias + x.Zip(w, (a, b) => a * b).Sum()).ToArray(), testLabels);
        var fitted = RocAuc.Compute(test.Select(x => fit.Score(x)).ToArray(), testLabels);
        Assert.True(planted > 0.85);
        Assert.InRange(fitted, planted - 0.005, planted + 0.005);
    }

    [Fact]
    public void The_logistic_fit_is_the_optimum_of_its_penalized_objective()
    {
        var random = new Random(3);
        var w = Enumerable.Range(0, Dim).Select(_ => 3 * Gaussian(random)).ToArray(); // nearly separable
        var (x, labels) = Planted(2_000, 1.0, w, random);
        const double l2 = 0.5;
        var fit = LogisticRegression.Fit(Matrix<double>.Build.DenseOfRowArrays(x), labels, l2);
        // Gradient of Σ log-loss + (l2/2)|w|², computed here: zero at the optimum.
        var gradient = new double[Dim + 1];
        for (var i = 0; i < x.Length; i++)
        {
            var p = fit.Score(x[i]);
            var r = p - (labels[i] ? 1 : 0);
            gradient[0] += r;
            for (var j = 0; j < Dim; j++) gradient[j + 1] += r * x[i][j];
        }
        for (var j = 0; j < Dim; j++) gradient[j + 1] += l2 * fit.Weights[j];
        Assert.All(gradient, g => Assert.InRange(g, -1e-6, 1e-6));
    }

    [Fact]
    public void Ridge_without_penalty_recovers_an_exact_linear_map()
    {
        var random = new Random(11);
        const int inputs = 12, outputs = 20;
        var a = Matrix<double>.Build.Dense(inputs, outputs, (_, _) => Gaussian(random));
        var ridge = new RidgeRegression(inputs, outputs);
        for (var n = 0; n < 500; n++)
        {
            var x = Enumerable.Range(0, inputs).Select(_ => Gaussian(random)).ToArray();
            ridge.Add(x, (a.TransposeThisAndMultiply(Vector<double>.Build.DenseOfArray(x))).ToArray());
        }
        var b = ridge.Solve(0);
        Assert.True((b - a).InfinityNorm() < 1e-9, $"max error {(b - a).InfinityNorm()}");
    }

    [Fact]
    public void Ridge_with_a_penalty_equals_least_squares_on_the_augmented_system()
    {
        var random = new Random(5);
        const int inputs = 8, outputs = 6, rows = 300;
        const double lambda = 25;
        var a = Matrix<double>.Build.Dense(inputs, outputs, (_, _) => Gaussian(random));
        var x = Matrix<double>.Build.Dense(rows, inputs, (_, _) => Gaussian(random));
        var y = x * a + Matrix<double>.Build.Dense(rows, outputs, (_, _) => 0.3 * Gaussian(random));
        var ridge = new RidgeRegression(inputs, outputs);
        for (var i = 0; i < rows; i++) ridge.Add(x.Row(i).ToArray(), y.Row(i).ToArray());

        // min |XB − Y|² + λ|B|² is the least-squares solution of [X; √λ I] B = [Y; 0].
        var augmented = x.Stack(Math.Sqrt(lambda) * Matrix<double>.Build.DenseIdentity(inputs));
        var targets = y.Stack(Matrix<double>.Build.Dense(inputs, outputs));
        var expected = augmented.QR().Solve(targets);
        Assert.True((ridge.Solve(lambda) - expected).InfinityNorm() < 1e-9);
        Assert.True((ridge.Solve(lambda) - ridge.Solve(0)).InfinityNorm() > 1e-4); // the penalty did something
    }
}
