using System.Text;
using Spectre.Console;
using SpecializedInfer.Cli;

Console.OutputEncoding = new UTF8Encoding(false);
var stdout = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
var stderr = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
return SiApp.Run(args, new CliContext(stdout, stderr, Console.Out));
