using Spectre.Console;

namespace SpecializedInfer.Cli;

/// <summary>One <c>si</c> subcommand.</summary>
public interface ICommand
{
    string Name { get; }
    string Summary { get; }
    string Usage { get; }
    int Run(CommandLine args, CliContext context);
}

/// <summary>
/// Where a command writes: tables to <see cref="Out"/> (rendered), generated text to <see cref="Text"/> (the same
/// standard output, unrendered), errors and timings to <see cref="Error"/> as plain lines scripts can read.
/// </summary>
public sealed record CliContext(IAnsiConsole Out, TextWriter Text, TextWriter Error);
