using SpecializedInfer.Cli;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Cli;

/// <summary>The README's synopsis of <c>si</c> is the one generated from the declared options: every command, every option.</summary>
public sealed class ReadmeSynopsisTests
{
    [Fact]
    public void The_readme_lists_every_command_with_its_generated_synopsis()
    {
        var readme = File.ReadAllText(Path.Combine(Path.GetDirectoryName(ReferencePlanExecutionTests.RepositoryModels)!, "README.md")).ReplaceLineEndings("\n");
        var root = SiApp.CreateRoot(new CliContext(Spectre.Console.AnsiConsole.Console, TextWriter.Null, TextWriter.Null));
        Assert.Equal(13, root.Subcommands.Count);
        foreach (var command in root.Subcommands)
        {
            var synopsis = string.Join("\n", Usage.Lines(command));
            Assert.True(readme.Contains("\n" + synopsis + "\n", StringComparison.Ordinal), $"README.md lacks the synopsis of si {command.Name}:\n{synopsis}");
        }
    }
}
