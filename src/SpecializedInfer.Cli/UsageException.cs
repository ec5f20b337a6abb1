namespace SpecializedInfer.Cli;

/// <summary>
/// A usage mistake found only once a command runs (options that parse one by one but do not fit together): printed
/// with the command's usage, exit code 2, like the parser's own errors.
/// </summary>
public sealed class UsageException(string message) : Exception(message);
