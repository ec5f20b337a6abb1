using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// What a generated encoder's kernels depend on: the sizes of its manifest, and where the kernels go (the engine's
/// <see cref="KernelClass"/>, in <c>X.Kernels.g.cs</c>). Equatable and independent of the plan, so an edit of the plan
/// (an exit threshold, a pruned layer) re-emits the engine but not its kernels.
/// </summary>
public sealed record EncoderKernelSet(KernelClass Class, string EngineName, string HintName, string ModelName, int Dim, int HiddenDim, int Heads, int HeadDim)
{
    public static EncoderKernelSet For(EngineSpec spec)
    {
        var m = spec.Manifest;
        return new EncoderKernelSet(KernelClass.For(spec), spec.ClassName, KernelSet.KernelsHintName(spec.HintName), m.Name, m.Dim, m.HiddenDim, m.Heads, m.HeadDim);
    }

    /// <summary>True for a spec whose manifest is an encoder's (<c>architecture: bert</c>).</summary>
    public static bool IsEncoder(EngineSpec spec) => spec.Manifest.Encoder is not null;

    /// <summary>The matrix products of one block, each a kernel of its own shape and epilogue.</summary>
    public EncoderMatMul QueryKeyValue => new(Dim, 3 * Dim, EncoderEpilogue.Bias);
    public EncoderMatMul AttentionOutput => new(Dim, Dim, EncoderEpilogue.BiasResidual);
    public EncoderMatMul Up => new(Dim, HiddenDim, EncoderEpilogue.BiasGelu);
    public EncoderMatMul Down => new(HiddenDim, Dim, EncoderEpilogue.BiasResidual);
}

/// <summary>What a matrix kernel does with an output after its dot product.</summary>
public enum EncoderEpilogue
{
    /// <summary>y = x·W + b.</summary>
    Bias,

    /// <summary>y = GELU(x·W + b): the feed-forward's first half.</summary>
    BiasGelu,

    /// <summary>y = y + (x·W + b): a block's projection added to the residual stream in place, as the reference adds it.</summary>
    BiasResidual,
}

/// <summary>One matrix kernel of an encoder: <see cref="Inputs"/> → <see cref="Outputs"/> with its epilogue.</summary>
public sealed record EncoderMatMul(int Inputs, int Outputs, EncoderEpilogue Epilogue)
{
    public string Name => $"MatMul{Inputs}x{Outputs}{(Epilogue == EncoderEpilogue.Bias ? "" : Epilogue == EncoderEpilogue.BiasGelu ? "Gelu" : "Residual")}";
}
