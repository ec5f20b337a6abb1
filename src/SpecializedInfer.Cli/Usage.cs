using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;

namespace SpecializedInfer.Cli;

/// <summary>
/// The synopsis of a command (<c>si run --model MODEL.gguf --prompt TEXT [-n 256] ...</c>), generated from its
/// declared options, so it always lists exactly the options the parser takes. Printed after a usage error; <c>--help</c>
/// prints System.CommandLine's own help (description, usage, every option with its default).
/// </summary>
internal static class Usage
{
    private const int Width = 110;

    /// <summary>The synopsis wrapped to lines; continuation lines are indented under the first option.</summary>
    public static IReadOnlyList<string> Lines(Command command)
    {
        if (command.Subcommands.Count > 0)
            return [$"{Path(command)} <command> [options]   ({Path(command)} <command> --help for its options)"];
        var head = Path(command);
        var lines = new List<string>();
        var line = head;
        foreach (var part in Parts(command))
        {
            if (line.Length + 1 + part.Length > Width && line.Length > head.Length)
            {
                lines.Add(line);
                line = new string(' ', head.Length);
            }
            line += " " + part;
        }
        lines.Add(line);
        return lines;
    }

    /// <summary>"si run": the command and its parents.</summary>
    public static string Path(Command command) =>
        command.Parents.OfType<Command>().FirstOrDefault() is { } parent ? Path(parent) + " " + command.Name : command.Name;

    /// <summary>Prints the synopsis (and, for the root, the command list) after a usage error.</summary>
    public static void Print(Command command, TextWriter writer)
    {
        var lines = Lines(command);
        writer.WriteLine("usage: " + lines[0]);
        foreach (var line in lines.Skip(1)) writer.WriteLine("       " + line);
        if (command.Subcommands.Count > 0)
            foreach (var sub in command.Subcommands) writer.WriteLine($"  {sub.Name,-10}{sub.Description?.Split('\n')[0]}");
        else writer.WriteLine($"({Path(command)} --help describes each option)");
    }

    private static IEnumerable<string> Parts(Command command)
    {
        foreach (var argument in command.Arguments.Where(a => !a.Hidden)) yield return argument.Name;
        foreach (var option in command.Options.Where(o => o is not HelpOption && !o.Hidden))
        {
            if (option.Arity.MaximumNumberOfValues == 0) yield return $"[{option.Name}]";
            else if (option.Arity.MaximumNumberOfValues > 1) yield return $"{option.Name} {option.HelpName} [{option.Name} ...]";
            else if (option.Required) yield return $"{option.Name} {option.HelpName}";
            else yield return $"[{option.Name} {(option.HasDefaultValue ? Format(option.GetDefaultValue()) : option.HelpName)}]";
        }
    }

    private static string Format(object? value) => value is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : value?.ToString() ?? "";
}
