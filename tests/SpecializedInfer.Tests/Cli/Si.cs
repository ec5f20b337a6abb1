using Spectre.Console;
using SpecializedInfer.Cli;

namespace SpecializedInfer.Tests.Cli;

/// <summary>The <c>si</c> command run in-process, as a script would see it: exit code, standard output, standard error.</summary>
internal static class Si
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;
        var code = SiApp.Run(args, new CliContext(console, stdout, stderr));
        return (code, stdout.ToString(), stderr.ToString());
    }
}
