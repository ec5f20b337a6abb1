namespace SpecializedInfer.Planning;

/// <summary>Diagnostic IDs of every problem the planning layer can report. Titles and help live in the analyzers' descriptor file.</summary>
public static class ProblemIds
{
    public const string JsonSyntax = "SI0001";
    public const string UnknownProperty = "SI0002";
    public const string MissingProperty = "SI0003";
    public const string WrongType = "SI0004";
    public const string ManifestNotFound = "SI0005";
    public const string PlanFileNotFound = "SI0006";
    public const string DuplicateEngineClass = "SI0007";
    public const string InvalidEngineClass = "SI0008";
    public const string LayerOutOfRange = "SI0009";
    public const string DuplicateIndex = "SI0010";
    public const string NegativeNumber = "SI0011";
    public const string EverythingPruned = "SI0012";
    public const string PrunedLayerUsed = "SI0013";
    public const string ShareChain = "SI0014";
    public const string ShareShapeMismatch = "SI0015";
    public const string EmptyOrder = "SI0016";
    public const string DecodeDepthOutOfRange = "SI0017";
    public const string ExitAfterLastStep = "SI0018";
    public const string DuplicateExit = "SI0019";
    public const string ThresholdOutOfRange = "SI0020";
    public const string PatienceTooLong = "SI0021";
    public const string EnsembleVotes = "SI0022";
    public const string ProbeNotFound = "SI0023";
    public const string HeadsDoNotDivideDim = "SI0024";
    public const string KvHeadsDoNotDivideHeads = "SI0025";
    public const string HeadDimMismatch = "SI0026";
    public const string RotaryDimsTooLarge = "SI0027";
    public const string NonPositiveSize = "SI0028";
    public const string NotMultipleOf16 = "SI0029";
    public const string ExitHeadTooCostly = "SI0030";
    public const string AotWithoutAvx512 = "SI0031";
    public const string UnsupportedArchitecture = "SI0032";
    public const string UnknownEnumValue = "SI0033";
    public const string InvalidProbe = "SI0034";
    public const string InvalidSkipRule = "SI0035";
    public const string SpeculationMismatch = "SI0036";
    public const string LimitExceeded = "SI0037";
    public const string InvalidCalibration = "SI0038";
    public const string InvalidSubLayerPruning = "SI0041";
    public const string InvalidMerge = "SI0040";
    public const string WeightTypeMismatch = "SI0042";
    public const string WeightBlocksDoNotDivide = "SI0043";
}
