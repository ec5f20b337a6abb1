using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators;

/// <summary>
/// Every diagnostic <see cref="Analyzers.PlanAnalyzer"/> reports. The plan and manifest readers (shared with the
/// runtime and the CLI) produce <see cref="PlanProblem"/>s carrying these IDs; the analyzer adds SI0005-SI0008 and
/// SI0031 from the project around the files. Each message is the problem's own text, so the runtime, the CLI and
/// the compiler say the same thing.
/// </summary>
public static class DiagnosticDescriptors
{
    public const string Category = "SpecializedInfer";
    private const string HelpBase = "https://github.com/specializedinfer/specializedinfer/blob/main/docs/diagnostics.md#";

    private static DiagnosticDescriptor Rule(string id, string title, DiagnosticSeverity severity, string description, params string[] tags) =>
        new(id, title, "{0}", Category, severity, isEnabledByDefault: true, description, HelpBase + id.ToLowerInvariant(), tags);

    public static readonly DiagnosticDescriptor JsonSyntax = Rule("SI0001", "Plan or manifest is not valid JSON", DiagnosticSeverity.Error,
        "The file must be JSON (comments allowed); the diagnostic points at the first character that breaks it.");
    public static readonly DiagnosticDescriptor UnknownProperty = Rule("SI0002", "Unknown or repeated property", DiagnosticSeverity.Error,
        "A property the plan or manifest format does not define, usually a misspelling; the message suggests the nearest known name.");
    public static readonly DiagnosticDescriptor MissingProperty = Rule("SI0003", "Required property missing", DiagnosticSeverity.Error,
        "A property the format requires is absent.");
    public static readonly DiagnosticDescriptor WrongType = Rule("SI0004", "Value has the wrong type", DiagnosticSeverity.Error,
        "A value is of another JSON type than the property needs (a string for a number, a fraction for a whole number...).");
    public static readonly DiagnosticDescriptor ManifestNotFound = Rule("SI0005", "Manifest not found", DiagnosticSeverity.Error,
        "The plan's 'manifest' names a file, relative to the plan file, that is not among the project's AdditionalFiles.");
    public static readonly DiagnosticDescriptor PlanFileNotFound = Rule("SI0006", "Plan file not found", DiagnosticSeverity.Error,
        "The [SpecializedEngine] path matches no *.plan.json file among the project's AdditionalFiles.");
    public static readonly DiagnosticDescriptor DuplicateEngineClass = Rule("SI0007", "Class targeted by more than one engine attribute", DiagnosticSeverity.Error,
        "Each engine class is generated from exactly one plan.");
    public static readonly DiagnosticDescriptor InvalidEngineClass = Rule("SI0008", "Class cannot hold a generated engine", DiagnosticSeverity.Error,
        "The class must be a non-generic, non-static, non-abstract partial class, nested (if at all) only in partial non-generic classes or structs.");
    public static readonly DiagnosticDescriptor LayerOutOfRange = Rule("SI0009", "Layer index out of range", DiagnosticSeverity.Error,
        "A layer index must be between 0 and the manifest's layer count minus one.");
    public static readonly DiagnosticDescriptor DuplicateIndex = Rule("SI0010", "Index listed twice", DiagnosticSeverity.Error,
        "A layer appears twice where each may appear once.");
    public static readonly DiagnosticDescriptor NegativeNumber = Rule("SI0011", "Negative number", DiagnosticSeverity.Error,
        "A count or index is negative.");
    public static readonly DiagnosticDescriptor EverythingPruned = Rule("SI0012", "Every layer pruned", DiagnosticSeverity.Error,
        "Nothing would run.");
    public static readonly DiagnosticDescriptor PrunedLayerUsed = Rule("SI0013", "Pruned layer used", DiagnosticSeverity.Error,
        "A pruned layer is shared, shares its weights or appears in 'order'.");
    public static readonly DiagnosticDescriptor ShareChain = Rule("SI0014", "Weight sharing chain", DiagnosticSeverity.Error,
        "A layer must take the weights of a layer that owns its weights.");
    public static readonly DiagnosticDescriptor ShareShapeMismatch = Rule("SI0015", "Shared layers differ in shape", DiagnosticSeverity.Error,
        "Reserved: a layer can only run with the weights of a layer of the same shape, but every layer of a LLaMA manifest has the same shape, so no plan can break this yet.");
    public static readonly DiagnosticDescriptor EmptyOrder = Rule("SI0016", "Empty order", DiagnosticSeverity.Error,
        "'order' must name at least one layer.");
    public static readonly DiagnosticDescriptor DecodeDepthOutOfRange = Rule("SI0017", "Decode depth out of range", DiagnosticSeverity.Error,
        "'decodeDepth' must be between 1 and the number of schedule steps.");
    public static readonly DiagnosticDescriptor ExitAfterLastStep = Rule("SI0018", "Exit can never save work", DiagnosticSeverity.Error,
        "An exit must come before the last step generated tokens run.");
    public static readonly DiagnosticDescriptor DuplicateExit = Rule("SI0019", "Two exits after one step", DiagnosticSeverity.Error,
        "Each step has at most one exit point.");
    public static readonly DiagnosticDescriptor ThresholdOutOfRange = Rule("SI0020", "Exit threshold out of range", DiagnosticSeverity.Warning,
        "A probability threshold above 1 never lets a token exit (a disabled exit, useful as a control); a negative one is an error.");
    public static readonly DiagnosticDescriptor PatienceTooLong = Rule("SI0021", "Patience longer than the exit points", DiagnosticSeverity.Error,
        "A patience exit needs the same argmax at that many exit points with a head, up to and including its own step.");
    public static readonly DiagnosticDescriptor EnsembleVotes = Rule("SI0022", "Ensemble needs more votes than it has members", DiagnosticSeverity.Error,
        "'votes' must be between 1 and the number of members; members cannot be ensembles themselves.");
    public static readonly DiagnosticDescriptor ProbeNotFound = Rule("SI0023", "Probe sidecar not found", DiagnosticSeverity.Error,
        "A learned exit or skip names a *.probe.json file, relative to the plan, that is not among the AdditionalFiles.");
    public static readonly DiagnosticDescriptor HeadsDoNotDivideDim = Rule("SI0024", "Heads do not divide dim", DiagnosticSeverity.Error,
        "Without 'headDim', 'heads' must divide 'dim'.");
    public static readonly DiagnosticDescriptor KvHeadsDoNotDivideHeads = Rule("SI0025", "KV heads do not divide heads", DiagnosticSeverity.Error,
        "Grouped-query attention needs 'kvHeads' to divide 'heads'.");
    public static readonly DiagnosticDescriptor HeadDimMismatch = Rule("SI0026", "Query width out of range", DiagnosticSeverity.Error,
        "'headDim' × 'heads' (the query's width) must be at most the largest width a model may have.");
    public static readonly DiagnosticDescriptor RotaryDimsTooLarge = Rule("SI0027", "Rotary dimensions invalid", DiagnosticSeverity.Error,
        "'rotaryDims' must be even and at most the head dimension.");
    public static readonly DiagnosticDescriptor NonPositiveSize = Rule("SI0028", "Size out of range", DiagnosticSeverity.Error,
        "A size, epsilon or base is outside the range the engine supports.");
    public static readonly DiagnosticDescriptor NotMultipleOf16 = Rule("SI0029", "Dimension not a multiple of 16", DiagnosticSeverity.Info,
        "The Vector512 kernels run with narrower-vector or scalar tails for this dimension.");
    public static readonly DiagnosticDescriptor ExitHeadTooCostly = Rule("SI0030", "Exit head costs more than it can save", DiagnosticSeverity.Info,
        "An exit point computing head logits (dim × vocab multiply-adds per token) after which fewer layers' worth of work remains than that: the exit can never pay for itself.");
    public static readonly DiagnosticDescriptor AotWithoutAvx512 = Rule("SI0031", "NativeAOT without AVX-512", DiagnosticSeverity.Warning,
        "PublishAot is true but IlcInstructionSet is not an AVX-512 level (x86-64-v4 or native): the generated Vector512 kernels compile to the non-accelerated fallback ahead of time.",
        WellKnownDiagnosticTags.CompilationEnd);
    public static readonly DiagnosticDescriptor UnsupportedArchitecture = Rule("SI0032", "Unsupported architecture", DiagnosticSeverity.Error,
        "Only 'llama' models are supported so far.");
    public static readonly DiagnosticDescriptor UnknownEnumValue = Rule("SI0033", "Unknown value", DiagnosticSeverity.Error,
        "A criterion or fill strategy the format does not define.");
    public static readonly DiagnosticDescriptor InvalidProbe = Rule("SI0034", "Invalid probe sidecar", DiagnosticSeverity.Error,
        "A probe file whose weights do not match its 'dim' or the model's width, or are not finite single-precision numbers.");
    public static readonly DiagnosticDescriptor InvalidSkipRule = Rule("SI0035", "Skip rule can never apply", DiagnosticSeverity.Error,
        "A skippable layer that generated tokens never run, or a cosine test at step 0 where there is no previous step.");
    public static readonly DiagnosticDescriptor SpeculationMismatch = Rule("SI0036", "Lossless speculation misconfigured", DiagnosticSeverity.Error,
        "\"kvFill\": \"lossless\" and 'speculation' go together, draft fewer steps than the schedule, and allow only the draft's exit point.");
    public static readonly DiagnosticDescriptor LimitExceeded = Rule("SI0037", "Input exceeds a limit", DiagnosticSeverity.Error,
        "A schedule longer than 16 steps per model layer (each step keeps a KV cache), a plan, manifest or probe file over 4 MiB, or more than 100 problems in one file (the rest are counted, not listed).");
    public static readonly DiagnosticDescriptor InvalidCalibration = Rule("SI0038", "Invalid calibration record", DiagnosticSeverity.Error,
        "A plan's 'calibration' record (written by si calibrate, ignored by executors) is incomplete or inconsistent: a value out of range, an agreement that is not 1 - disagreements / tokens, a p-value above delta, or a digest that is not SHA-256 hex.");
    public static readonly DiagnosticDescriptor InvalidSubLayerPruning = Rule("SI0041", "Sub-layer pruning changes nothing or everything", DiagnosticSeverity.Error,
        "'skipAttention' or 'skipFeedForward' names a layer the schedule never runs, or drops both halves of one layer (prune it instead).");
    public static readonly DiagnosticDescriptor InvalidMerge = Rule("SI0040", "Invalid layer merge", DiagnosticSeverity.Error,
        "A 'merge' entry must list at least two consecutive layers in ascending order, none in another merge, and its first layer must own its weights.");

    public static readonly DiagnosticDescriptor WeightTypeMismatch = Rule("SI0042", "Plan weight type differs from the model's", DiagnosticSeverity.Error,
        "A plan's 'weightType' (the weight type it was made for) must be the one its manifest describes ('weightType', written by si manifest from the model file).");
    public static readonly DiagnosticDescriptor WeightBlocksDoNotDivide = Rule("SI0043", "Weight type's blocks do not divide a width", DiagnosticSeverity.Error,
        "A manifest's 'weightType' stores matrix rows in whole blocks (32 values for q8_0, q4_0 and the other legacy quants, 256 for the K-quants): 'dim' and 'hiddenDim' must be multiples of the block.");

    private static readonly Dictionary<string, DiagnosticDescriptor> ById = typeof(DiagnosticDescriptors).GetFields()
        .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
        .Select(f => (DiagnosticDescriptor)f.GetValue(null))
        .ToDictionary(d => d.Id);

    /// <summary>All descriptors, in ID order.</summary>
    public static ImmutableArray<DiagnosticDescriptor> All { get; } = ById.Values.OrderBy(d => d.Id, System.StringComparer.Ordinal).ToImmutableArray();

    /// <summary>The descriptor for a problem ID (every ID in <see cref="ProblemIds"/> has one; a test checks it).</summary>
    public static DiagnosticDescriptor For(string id) => ById[id];

    /// <summary>
    /// The diagnostic at <paramref name="location"/> (the caller turns C# places into source locations so #pragma
    /// applies); the severity is the problem's own, since one ID can be an error or a warning (SI0020).
    /// </summary>
    public static Diagnostic ToDiagnostic(DiagnosticInfo info, Location location, ImmutableDictionary<string, string?>? properties = null)
    {
        var severity = info.Severity switch
        {
            ProblemSeverity.Error => DiagnosticSeverity.Error,
            ProblemSeverity.Warning => DiagnosticSeverity.Warning,
            _ => DiagnosticSeverity.Info,
        };
        var descriptor = For(info.Id);
        return Diagnostic.Create(descriptor, location, severity, additionalLocations: null, properties, info.Message);
    }
}
