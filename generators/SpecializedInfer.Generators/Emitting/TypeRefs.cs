namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// The types and namespaces generated code names, fully qualified with <c>global::</c> so the consumer needs no
/// <c>using</c> and no type of theirs can capture a name. Declared once for every emitter, which imports them with
/// <c>using static</c> inside its namespace (<c>Planning</c> would otherwise mean the generator's own
/// SpecializedInfer.Planning namespace).
/// </summary>
public static class TypeRefs
{
    // The SpecializedInfer runtime the engines build on.
    public const string Engine = "global::SpecializedInfer.Engine";
    public const string Encoders = "global::SpecializedInfer.Encoders";
    public const string AI = "global::Microsoft.Extensions.AI";
    public const string TextEmbeddingGenerator = AI + ".IEmbeddingGenerator<string, " + AI + ".Embedding<float>>";
    public const string Planning = "global::SpecializedInfer.Planning";
    public const string Models = "global::SpecializedInfer.Models";
    public const string ManifestMismatchException = "global::SpecializedInfer.ManifestMismatchException";
    public const string Prefetch = Engine + ".Prefetch";
    public const string CacheLine = Engine + ".CacheLine";
    public const string AlignedBuffer = Engine + ".AlignedBuffer";
    public const string PromptGemmType = Engine + ".PromptGemm";
    public const string ExitMeasures = Engine + ".ExitMeasures";
    public const string ParkedPositions = Engine + ".ParkedPositions";
    public const string Quantization = "global::SpecializedInfer.Quantization";
    public const string QuantizedActivations = Quantization + ".QuantizedActivations";
    public const string RepackedMatrix = Quantization + ".RepackedMatrix";
    public const string RepackedLayer = Quantization + ".RepackedLayer";
    public const string SuperBlockDot = Quantization + ".SuperBlockDot";
    public const string SuperBlockActivationQuantizer = Quantization + ".SuperBlockActivationQuantizer";
    public const string GgmlType = "global::SpecializedInfer.Gguf.GgmlType";

    /// <summary>
    /// The engine's kernels as the session names them: a class nested in the session that derives from the engine's
    /// <see cref="KernelClass"/>, so no type or member of the user's can capture the name.
    /// </summary>
    public const string Kernels = "Kernels";

    /// <summary>The shape-independent kernel helpers, generated once per project (<see cref="VectorMathEmitter"/>).</summary>
    public const string VectorMath = "global::SpecializedInfer.Generated.VectorMath";

    // System.
    public const string FloatSpan = "global::System.Span<float>";
    public const string FloatReadOnlySpan = "global::System.ReadOnlySpan<float>";
    public const string IntReadOnlySpan = "global::System.ReadOnlySpan<int>";
    public const string ArgumentException = "global::System.ArgumentException";
    public const string ArgumentOutOfRangeException = "global::System.ArgumentOutOfRangeException";
    public const string InvalidOperationException = "global::System.InvalidOperationException";
    public const string Array = "global::System.Array";
    public const string Math = "global::System.Math";
    public const string GC = "global::System.GC";
    public const string FloatArrayList = "global::System.Collections.Generic.List<float[]>";
    public const string Marshal = "global::System.Runtime.InteropServices.Marshal";
    public const string AvxVnni = "global::System.Runtime.Intrinsics.X86.AvxVnni";
    public const string Avx2 = "global::System.Runtime.Intrinsics.X86.Avx2";
    public const string Avx512BW = "global::System.Runtime.Intrinsics.X86.Avx512BW";
    public const string ByteReadOnlySpan = "global::System.ReadOnlySpan<byte>";
    public const string GeneratedCode = "global::System.CodeDom.Compiler.GeneratedCode";
    public const string EmbeddedAttribute = "global::Microsoft.CodeAnalysis.EmbeddedAttribute";
}
