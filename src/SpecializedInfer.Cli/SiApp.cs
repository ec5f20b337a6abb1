using Spectre.Console;
using SpecializedInfer.Cli.Commands;
using SpecializedInfer.Gguf;

namespace SpecializedInfer.Cli;

/// <summary>The <c>si</c> command: dispatch, usage and the mapping from failures to exit codes.</summary>
public static class SiApp
{
    public static IReadOnlyList<ICommand> Commands { get; } =
    [
        new InspectCommand(),
        new ConvertCommand(),
        new SynthCommand(),
    ];

    public static int Run(string[] args, CliContext context)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            PrintUsage(context.Out);
            return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Success;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            context.Error.MarkupLineInterpolated($"[red]error:[/] unknown command '{args[0]}'.");
            PrintUsage(context.Error);
            return ExitCodes.Usage;
        }
        if (args.Skip(1).Any(a => a is "--help" or "-h"))
        {
            context.Out.WriteLine(command.Usage);
            return ExitCodes.Success;
        }
        try
        {
            return command.Run(new CommandLine(args.Skip(1), "stats", "no-bos", "no-stream"), context);
        }
        catch (UsageException e)
        {
            context.Error.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            context.Error.WriteLine(command.Usage);
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is GgufFormatException or IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            context.Error.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return ExitCodes.Failure;
        }
    }

    private static void PrintUsage(IAnsiConsole console)
    {
        console.WriteLine("usage: si <command> [options]   (si <command> --help for its options)");
        var table = new Table().NoBorder().HideHeaders().AddColumn("").AddColumn("");
        foreach (var c in Commands) table.AddRow(new Text("  " + c.Name), new Text(c.Summary));
        console.Write(table);
    }
}
