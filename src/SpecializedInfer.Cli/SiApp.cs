using SpecializedInfer.Cli.Commands;

namespace SpecializedInfer.Cli;

/// <summary>The <c>si</c> command: dispatch, usage and the mapping from failures to exit codes.</summary>
public static class SiApp
{
    public static IReadOnlyList<ICommand> Commands { get; } =
    [
        new RunCommand(),
        new InspectCommand(),
        new ManifestCommand(),
        new ConvertCommand(),
        new SynthCommand(),
        new EvalCommand(),
    ];

    public static int Run(string[] args, CliContext context)
    {
        if (args.Length == 0)
        {
            PrintUsage(context.Error);
            return ExitCodes.Usage;
        }
        if (args[0] is "help" or "--help" or "-h")
        {
            PrintUsage(context.Text);
            return ExitCodes.Success;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            context.Error.WriteLine($"error: unknown command '{args[0]}'.");
            PrintUsage(context.Error);
            return ExitCodes.Usage;
        }
        if (args.Skip(1).Any(a => a is "--help" or "-h"))
        {
            context.Text.WriteLine(command.Usage);
            return ExitCodes.Success;
        }
        try
        {
            return command.Run(new CommandLine(args.Skip(1), "stats", "no-bos", "markdown"), context);
        }
        catch (UsageException e)
        {
            context.Error.WriteLine($"error: {e.Message}");
            context.Error.WriteLine(command.Usage);
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is ModelFormatException or PlanException or IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            context.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    private static void PrintUsage(TextWriter writer)
    {
        writer.WriteLine("usage: si <command> [options]   (si <command> --help for its options)");
        foreach (var c in Commands) writer.WriteLine($"  {c.Name,-10}{c.Summary}");
    }
}
