using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators;

/// <summary>
/// Every diagnostic the generator reports. The plan and manifest readers (shared with the runtime and the CLI)
/// produce <see cref="PlanProblem"/>s carrying these IDs; the generator adds SI0005-SI0008 for what only it can
/// see. Each message is the problem's own text, so the runtime, the CLI and the compiler say the same thing.
/// </summary>
public static class DiagnosticDescriptors
{
    public const string Category = "SpecializedInfer";
    private const string HelpBase = "https://github.com/specializedinfer/specializedinfer/blob/main/docs/diagnostics.md#";

    private static DiagnosticDescriptor Rule(string id, string title, DiagnosticSeverity severity, string description) =>
        new(id, title, "{0}", Category, severity, isEnabledByDefault: true, description, HelpBase + id.ToLowerInvariant());

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
        "A layer can only run with the weights of a layer of the same shape.");
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
    public static readonly DiagnosticDescriptor HeadsDoNotDivideDim = Rule("SI0024", "Heads do not divide dim", DiagnosticSeverity.Error,
        "Without 'headDim', 'heads' must divide 'dim'.");
    public static readonly DiagnosticDescriptor KvHeadsDoNotDivideHeads = Rule("SI0025", "KV heads do not divide heads", DiagnosticSeverity.Error,
        "Grouped-query attention needs 'kvHeads' to divide 'heads'.");
    public static readonly DiagnosticDescriptor HeadDimMismatch = Rule("SI0026", "Head dimension does not match", DiagnosticSeverity.Error,
        "'headDim' × 'heads' must equal 'dim'.");
    public static readonly DiagnosticDescriptor RotaryDimsTooLarge = Rule("SI0027", "Rotary dimensions invalid", DiagnosticSeverity.Error,
        "'rotaryDims' must be even and at most the head dimension.");
    public static readonly DiagnosticDescriptor NonPositiveSize = Rule("SI0028", "Size out of range", DiagnosticSeverity.Error,
        "A size, epsilon or base is outside the range the engine supports.");
    public static readonly DiagnosticDescriptor NotMultipleOf16 = Rule("SI0029", "Dimension not a multiple of 16", DiagnosticSeverity.Info,
        "The Vector512 kernels run with narrower-vector or scalar tails for this dimension.");
    public static readonly DiagnosticDescriptor UnsupportedArchitecture = Rule("SI0032", "Unsupported architecture", DiagnosticSeverity.Error,
        "Only 'llama' models are supported so far.");
    public static readonly DiagnosticDescriptor UnknownEnumValue = Rule("SI0033", "Unknown value", DiagnosticSeverity.Error,
        "A criterion or fill strategy the format does not define.");

    private static readonly Dictionary<string, DiagnosticDescriptor> ById = new()
    {
        [JsonSyntax.Id] = JsonSyntax, [UnknownProperty.Id] = UnknownProperty, [MissingProperty.Id] = MissingProperty,
        [WrongType.Id] = WrongType, [ManifestNotFound.Id] = ManifestNotFound, [PlanFileNotFound.Id] = PlanFileNotFound,
        [DuplicateEngineClass.Id] = DuplicateEngineClass, [InvalidEngineClass.Id] = InvalidEngineClass,
        [LayerOutOfRange.Id] = LayerOutOfRange, [DuplicateIndex.Id] = DuplicateIndex, [NegativeNumber.Id] = NegativeNumber,
        [EverythingPruned.Id] = EverythingPruned, [PrunedLayerUsed.Id] = PrunedLayerUsed, [ShareChain.Id] = ShareChain,
        [ShareShapeMismatch.Id] = ShareShapeMismatch, [EmptyOrder.Id] = EmptyOrder, [DecodeDepthOutOfRange.Id] = DecodeDepthOutOfRange,
        [ExitAfterLastStep.Id] = ExitAfterLastStep, [DuplicateExit.Id] = DuplicateExit, [ThresholdOutOfRange.Id] = ThresholdOutOfRange,
        [HeadsDoNotDivideDim.Id] = HeadsDoNotDivideDim, [KvHeadsDoNotDivideHeads.Id] = KvHeadsDoNotDivideHeads,
        [HeadDimMismatch.Id] = HeadDimMismatch, [RotaryDimsTooLarge.Id] = RotaryDimsTooLarge, [NonPositiveSize.Id] = NonPositiveSize,
        [NotMultipleOf16.Id] = NotMultipleOf16, [UnsupportedArchitecture.Id] = UnsupportedArchitecture, [UnknownEnumValue.Id] = UnknownEnumValue,
    };

    /// <summary>All descriptors, in ID order.</summary>
    public static IReadOnlyCollection<DiagnosticDescriptor> All => ById.Values;

    /// <summary>The descriptor for a problem ID; an ID the planning layer adds later falls back to SI0004's wording slot.</summary>
    public static DiagnosticDescriptor For(string id) => ById.TryGetValue(id, out var d) ? d : WrongType;

    public static Diagnostic ToDiagnostic(DiagnosticInfo info)
    {
        var severity = info.Severity switch
        {
            ProblemSeverity.Error => DiagnosticSeverity.Error,
            ProblemSeverity.Warning => DiagnosticSeverity.Warning,
            _ => DiagnosticSeverity.Info,
        };
        var descriptor = For(info.Id);
        var message = descriptor.Id == info.Id ? info.Message : $"{info.Id}: {info.Message}";
        return Diagnostic.Create(descriptor, info.Location?.ToLocation() ?? Location.None, severity,
            additionalLocations: null, properties: null, message);
    }
}
