namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// A weight matrix as a kernel sees it: <see cref="Rows"/>×<see cref="Cols"/>, consecutive rows <see cref="Stride"/>
/// floats apart (more than <see cref="Cols"/> when the aligned copy pads rows to whole cache lines), and whether the
/// product is added to the output (the residual add fused into the projection). One shape names two kernels: the
/// one-position <see cref="MatVecName"/> and its batched twin <see cref="MatMatName"/>. <see cref="ReferenceOrder"/>:
/// each row's dot product is the reference engine's own (TensorPrimitives.Dot), for an engine that quantizes the
/// product's output next (<see cref="WeightLayout.ReferenceArithmetic"/>).
/// </summary>
public sealed record MatrixShape(int Rows, int Cols, int Stride, bool ResidualAdd, bool ReferenceOrder = false)
{
    /// <summary>Floats the matrix occupies: every row at its stride.</summary>
    public long Length => (long)Rows * Stride;

    public bool Padded => Stride > Cols;

    public string MatVecName => Name(ResidualAdd ? "MatVecAdd" : "MatVec");

    public string MatMatName => Name(ResidualAdd ? "MatMatAdd" : "MatMat");

    private string Name(string kind) => $"{(ReferenceOrder ? "Dot" : "")}{kind}{Rows}x{Cols}{(Padded ? $"Stride{Stride}" : "")}";
}
