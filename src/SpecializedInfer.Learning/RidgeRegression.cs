using System.Globalization;
using MathNet.Numerics.LinearAlgebra;

namespace SpecializedInfer.Learning;

/// <summary>
/// Multi-output ridge regression without intercept: B = argmin |X B − Y|² + λ|B|², i.e. (XᵀX + λI) B = XᵀY, solved by
/// Cholesky with MathNet. The sums XᵀX and XᵀY are accumulated row by row, so the rows are never held as a matrix.
/// With λ = 0 and X of full column rank it is ordinary least squares: an exact linear map is recovered exactly.
/// </summary>
public sealed class RidgeRegression
{
    private readonly int _d, _m;
    private readonly double[] _xtx; // [d × d] row-major
    private readonly double[] _xty; // [d × m] row-major

    public RidgeRegression(int inputs, int outputs)
    {
        if (inputs < 1 || outputs < 1) throw new ArgumentOutOfRangeException($"At least one input and one output are needed, not {inputs} and {outputs}.", innerException: null);
        _d = inputs;
        _m = outputs;
        _xtx = new double[inputs * inputs];
        _xty = new double[inputs * outputs];
    }

    public int Rows { get; private set; }

    /// <summary>Adds one example: input <paramref name="x"/>, target <paramref name="y"/>.</summary>
    public void Add(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        int d = _d, m = _m;
        if (x.Length != d || y.Length != m) throw new ArgumentException($"Expected {d} inputs and {m} outputs, got {x.Length} and {y.Length}.");
        for (var i = 0; i < d; i++)
        {
            var xi = x[i];
            if (xi == 0) continue;
            var xtx = _xtx.AsSpan(i * d, d);
            for (var j = 0; j < d; j++) xtx[j] += xi * x[j];
            var xty = _xty.AsSpan(i * m, m);
            for (var j = 0; j < m; j++) xty[j] += xi * y[j];
        }
        Rows++;
    }

    /// <summary>B (inputs × outputs), so that y ≈ Bᵀ x. λ is absolute, on the summed squared error.</summary>
    public Matrix<double> Solve(double lambda)
    {
        if (!(lambda >= 0)) throw new ArgumentOutOfRangeException(string.Create(CultureInfo.InvariantCulture, $"The ridge penalty must be at least 0, not {lambda}."), innerException: null);
        if (Rows == 0) throw new InvalidOperationException("No examples were added.");
        var a = Matrix<double>.Build.Dense(_d, _d, (i, j) => _xtx[i * _d + j] + (i == j ? lambda : 0));
        var b = Matrix<double>.Build.Dense(_d, _m, (i, j) => _xty[i * _m + j]);
        return a.Cholesky().Solve(b);
    }

    /// <summary>The mean of the diagonal of XᵀX: a penalty relative to it does not depend on the scale of the inputs.</summary>
    public double MeanSquaredInput
    {
        get
        {
            double sum = 0;
            for (var i = 0; i < _d; i++) sum += _xtx[i * _d + i];
            return sum / _d;
        }
    }
}
