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

/// <summary>Where a command writes: rendered tables and streamed text to <see cref="Out"/>, diagnostics and timings to <see cref="Error"/>.</summary>
public sealed record CliContext(IAnsiConsole Out, IAnsiConsole Error, TextWriter Text);
