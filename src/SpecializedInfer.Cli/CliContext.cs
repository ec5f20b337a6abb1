using Spectre.Console;

namespace SpecializedInfer.Cli;

/// <summary>
/// Where a command writes: tables to <see cref="Out"/> (rendered), generated text and help to <see cref="Text"/> (the
/// same standard output, unrendered), errors, warnings and timings to <see cref="Error"/> as plain lines scripts can read.
/// </summary>
public sealed record CliContext(IAnsiConsole Out, TextWriter Text, TextWriter Error)
{
    /// <summary>Where <c>--engine generated</c> caches compiled engines (<see cref="Engines.EngineCache.DefaultDirectory"/> unless set).</summary>
    public string EngineCache { get; init; } = Engines.EngineCache.DefaultDirectory();
}
