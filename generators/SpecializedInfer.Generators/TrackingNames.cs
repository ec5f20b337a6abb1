namespace SpecializedInfer.Generators;

/// <summary>
/// Names of the incremental pipeline's steps (<c>WithTrackingName</c>), so tests can check what a change re-ran.
/// </summary>
public static class TrackingNames
{
    /// <summary>Classes carrying [SpecializedEngine], reduced to an equatable <c>EngineTarget</c>.</summary>
    public const string EngineTargets = nameof(EngineTargets);

    /// <summary>Full names of classes that more than one attribute targets (SI0007).</summary>
    public const string DuplicateTargets = nameof(DuplicateTargets);

    /// <summary>One <c>*.plan.json</c> or <c>*.model.json</c> AdditionalFile, read (manifests also checked, once per file).</summary>
    public const string JsonFiles = nameof(JsonFiles);

    /// <summary>All JSON AdditionalFiles together, to resolve plan and manifest paths against.</summary>
    public const string AllJsonFiles = nameof(AllJsonFiles);

    /// <summary>Project-wide options (MSBuild properties such as SpecializedInferWeightCopyLimit).</summary>
    public const string Options = nameof(Options);

    /// <summary>One resolution per target: plan resolved against its manifest into an <c>EngineSpec</c>, or an <c>UnavailableEngine</c> naming the error.</summary>
    public const string EngineSpecs = nameof(EngineSpecs);

    /// <summary>An engine spec with its weight layout decided (aligned copy or file mapping, strides, tensor slots).</summary>
    public const string EngineLayouts = nameof(EngineLayouts);

    /// <summary>The C# source of one engine (X.g.cs).</summary>
    public const string EngineSources = nameof(EngineSources);

    /// <summary>The distinct kernel shapes of one engine: equal across edits that leave its shapes alone.</summary>
    public const string KernelSets = nameof(KernelSets);

    /// <summary>The C# source of one engine's kernels (X.Kernels.g.cs).</summary>
    public const string KernelSources = nameof(KernelSources);

    /// <summary>The C# source of one generated encoder (X.g.cs, architecture: bert).</summary>
    public const string EncoderSources = nameof(EncoderSources);

    /// <summary>The sizes one encoder's kernels are written for: equal across edits of its plan.</summary>
    public const string EncoderKernelSets = nameof(EncoderKernelSets);

    /// <summary>The C# source of one encoder's kernels (X.Kernels.g.cs).</summary>
    public const string EncoderKernelSources = nameof(EncoderKernelSources);

    /// <summary>The throwing surface of an engine whose plan has an error (X.g.cs).</summary>
    public const string UnavailableSources = nameof(UnavailableSources);

    /// <summary>Whether the project has any engine, and so needs the kernels' shared helpers (VectorMath.g.cs).</summary>
    public const string AnyEngine = nameof(AnyEngine);
}
