using System.CommandLine;
using System.CommandLine.Help;
using SpecializedInfer.Cli.Commands;

namespace SpecializedInfer.Cli;

/// <summary>The <c>si</c> command: the command tree, and the mapping from parse errors and failures to exit codes.</summary>
public static class SiApp
{
    /// <summary>Every command with its options, writing to <paramref name="context"/>.</summary>
    public static Command CreateRoot(CliContext context)
    {
        var root = new Command("si", "Runs, inspects, converts, quantizes, synthesizes and evaluates LLaMA-family GGUF models.")
        {
            new HelpOption(),
            new RunCommand(context),
            new InspectCommand(context),
            new ManifestCommand(context),
            new ConvertCommand(context),
            new SynthCommand(context),
            new QuantizeCommand(context),
            new EvalCommand(context),
            new LearnExitsCommand(context),
            new CalibrateCommand(context),
            new AnalyzeCommand(context),
            new CompactCommand(context),
            new PlanCommand(context),
            new PullCommand(context),
        };
        return root;
    }

    public static int Run(string[] args, CliContext context)
    {
        // "si help [command]" is "si [command] --help".
        if (args is ["help", .. var rest]) args = [.. rest, "--help"];
        var root = CreateRoot(context);
        // A prompt may start with '@': response files are not wanted.
        var result = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var command = result.CommandResult.Command;
        if (result.Errors.Count > 0 && result.Action is not HelpAction)
            return UsageError(command, result.Errors.Select(e => e.Message), context);
        try
        {
            return result.Invoke(new InvocationConfiguration { Output = context.Text, Error = context.Error, EnableDefaultExceptionHandler = false });
        }
        catch (UsageException e)
        {
            return UsageError(command, [e.Message], context);
        }
        catch (Exception e) when (e is ModelFormatException or PlanException or IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException
                                       or Engine.ContextTooLargeException or Engines.EngineCompilationException)
        {
            // One line per problem (a plan may have several), no stack trace: the message names the file and place.
            foreach (var line in UserMessage.Of(e).Split('\n')) context.Error.WriteLine($"error: {line.TrimEnd('\r')}");
            return ExitCodes.Failure;
        }
    }

    private static int UsageError(Command command, IEnumerable<string> errors, CliContext context)
    {
        foreach (var error in errors.Distinct()) context.Error.WriteLine($"error: {error}");
        Usage.Print(command, context.Error);
        return ExitCodes.Usage;
    }
}
