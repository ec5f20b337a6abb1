using System.Text;
using Spectre.Console;
using SpecializedInfer.Cli;

Console.OutputEncoding = new UTF8Encoding(false);
var stdout = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
return SiApp.Run(args, new CliContext(stdout, Console.Out, Console.Error));
