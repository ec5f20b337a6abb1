namespace SpecializedInfer.Cli.Engines;

/// <summary>
/// A plan the checks accepted whose generated engine could not be built: the generator failed or its code did not
/// compile. That is a defect of the generator, not of the plan; the message names the plan and the first errors.
/// </summary>
public sealed class EngineCompilationException(string message) : Exception(message);
