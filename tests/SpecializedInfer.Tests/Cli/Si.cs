using Spectre.Console;
using SpecializedInfer.Cli;

namespace SpecializedInfer.Tests.Cli;

/// <summary>The <c>si</c> command run in-process, as a script would see it: exit code, standard output, standard error.</summary>
internal static class Si
{
    public static (int Code, string Out, string Err) Run(params string[] args) => RunCaching(null, args);

    /// <summary>As <see cref="Run"/>, with generated engines cached in <paramref name="engineCache"/> (null: the user's cache).</summary>
    public static (int Code, string Out, string Err) RunCaching(string? engineCache, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;
        var context = new CliContext(console, stdout, stderr);
        if (engineCache is not null) context = context with { EngineCache = engineCache };
        var code = SiApp.Run(args, context);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
