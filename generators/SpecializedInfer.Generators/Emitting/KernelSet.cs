using System.Linq;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// The kernels one engine calls, one per distinct shape, and where they go: the engine's <see cref="KernelClass"/>,
/// in <c>X.Kernels.g.cs</c>. Equatable and smaller than the spec, so an edit that leaves
/// the shapes alone (an exit threshold, a skip rule) re-emits the engine but not its kernels.
/// </summary>
public sealed record KernelSet(
    KernelClass Class,
    string EngineName,
    string HintName,
    ModelManifest Manifest,
    EquatableArray<MatrixShape> MatVecs,
    EquatableArray<MatrixShape> MatMats,
    EquatableArray<QuantizedMatrixShape> QuantizedMatVecs,
    EquatableArray<QuantizedMatrixShape> QuantizedMatMats,
    bool ReferenceArithmetic)
{
    public static KernelSet For(EngineLayout engine)
    {
        var (spec, layout) = (engine.Spec, engine.Weights);
        // The steps' projections and the head; batched, the projections (prompt chunks) and, where Verify runs the
        // head for every position, the head too. The layout says which are F32 and which integer products.
        var batchedHeads = SpeculativeSessionEmitter.AppliesTo(spec.Schedule);
        return new KernelSet(KernelClass.For(spec), spec.ClassName, KernelsHintName(spec.HintName),
            spec.Manifest, layout.MatVecs.ToEquatableArray(), layout.MatMats(batchedHeads).ToEquatableArray(),
            layout.QuantizedMatVecs.ToEquatableArray(), layout.QuantizedMatMats(batchedHeads).ToEquatableArray(), layout.ReferenceArithmetic);
    }

    /// <summary>X.g.cs → X.Kernels.g.cs.</summary>
    public static string KernelsHintName(string engineHintName) =>
        engineHintName.Substring(0, engineHintName.Length - ".g.cs".Length) + ".Kernels.g.cs";
}
