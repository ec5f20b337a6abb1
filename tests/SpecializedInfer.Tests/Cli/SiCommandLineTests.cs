using System.CommandLine;
using System.CommandLine.Help;
using SpecializedInfer.Cli;

namespace SpecializedInfer.Tests.Cli;

/// <summary>The command line as System.CommandLine parses it: generated help, option spellings, usage errors.</summary>
public sealed class SiCommandLineTests
{
    private static string Stories => ModelLocator.Find("stories260K.gguf");

    private static Command Root => SiApp.CreateRoot(new CliContext(Spectre.Console.AnsiConsole.Console, TextWriter.Null, TextWriter.Null));

    [Fact]
    public void Help_lists_every_command_and_each_commands_help_every_option_with_its_description_and_default()
    {
        var (code, text, err) = Si.Run("--help");
        Assert.Equal(ExitCodes.Success, code);
        Assert.Equal("", err);
        foreach (var command in Root.Subcommands) Assert.Contains(command.Name, text);

        foreach (var command in Root.Subcommands)
        {
            (code, text, err) = Si.Run(command.Name, "--help");
            Assert.Equal(ExitCodes.Success, code);
            Assert.Equal("", err);
            Assert.Contains($"si {command.Name}", text);
            foreach (var option in command.Options.Where(o => o is not HelpOption))
            {
                Assert.Contains(option.Name, text);
                Assert.Contains(option.Description!, text);
            }
        }
        (_, text, _) = Si.Run("run", "--help");
        Assert.Matches(@"-n <N>\s+How many tokens to generate at most\. \[default: 256\]", text);
        Assert.Equal(text, Si.Run("help", "run").Out);
    }

    [Fact]
    public void Options_are_spelled_as_typed_with_values_after_a_space_or_an_equals_sign()
    {
        var (code, text, _) = Si.Run("run", "--model=" + Stories, "--prompt", "Once upon a time", "-n", "5");
        Assert.Equal(ExitCodes.Success, code);
        Assert.Equal(text, Si.Run("run", "--model", Stories, "--prompt=Once upon a time", "-n=5").Out);
        Assert.StartsWith("Once upon a time, there was", text);
    }

    [Theory]
    [InlineData("--n 5", "'--n'")]
    [InlineData("--bogus 1", "'--bogus'")]
    [InlineData("--Model m.gguf", "'--Model'")]
    public void An_unknown_option_is_a_usage_error_naming_it(string extra, string named)
    {
        var (code, text, err) = Si.Run(["run", "--model", "m.gguf", "--prompt", "x", .. extra.Split(' ')]);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Equal("", text);
        Assert.Contains(named, err.Split('\n')[0]);
        Assert.StartsWith("error: ", err);
        Assert.Contains("usage: si run --model MODEL.gguf --prompt TEXT [-n 256]", err);
    }

    [Theory]
    [InlineData("run", "-n", "many", "Option -n takes a whole number from 0 to 1048576, got 'many'.")]
    [InlineData("run", "-n", "-1", "Option -n takes a whole number from 0 to 1048576, got '-1'.")]
    [InlineData("run", "--temp", "hot", "Option --temp takes a number from 0 to 100, got 'hot'.")]
    [InlineData("run", "--top-p", "0", "Option --top-p takes a number above 0 and at most 1, got '0'.")]
    [InlineData("run", "--seed", "-3", "Option --seed takes a whole number from 0 to 18446744073709551615, got '-3'.")]
    [InlineData("run", "--context", "0", "Option --context takes a whole number from 1 to 16777216, got '0'.")]
    [InlineData("synth", "--type", "q4", "Option --type takes f32, f16, bf16 or q8_0, got 'q4'.")]
    [InlineData("synth", "--separate-output", "yes", "Option --separate-output takes true or false, got 'yes'.")]
    public void A_bad_value_is_a_usage_error_naming_the_option_what_it_takes_and_what_was_given(string command, string option, string value, string message)
    {
        string[] required = command == "run" ? ["--model", "m.gguf", "--prompt", "x"] : ["--output", "x.gguf", "--shape", "stories260K"];
        var (code, _, err) = Si.Run([command, .. required, option, value]);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Equal($"error: {message}", err.Split('\n')[0]);
    }

    [Theory]
    [InlineData("run --model m.gguf --prompt x --plan", "--plan needs a file path; it was given an empty value.")]
    [InlineData("run --prompt x --model", "--model needs a file path; it was given an empty value.")]
    [InlineData("eval --model m.gguf --prompts p.txt --plan a.plan.json --plan", "--plan needs a file path; it was given an empty value.")]
    [InlineData("eval --model m.gguf --plan a.plan.json --prompts p.txt --json", "--json needs a file path; it was given an empty value.")]
    [InlineData("analyze --model m.gguf --text t.txt --plot", "--plot needs a folder path; it was given an empty value.")]
    [InlineData("manifest m.gguf --name", "--name needs a name; it was given an empty value.")]
    [InlineData("pull hf:a/b/c.gguf --tokenizer", "--tokenizer needs a path, hf:OWNER/REPO/FILE or a URL; it was given an empty value.")]
    [InlineData("inspect", "MODEL.gguf needs a value; it was given an empty one.")]
    public void An_empty_path_or_name_is_a_usage_error_naming_the_option(string commandLine, string message)
    {
        // The empty value comes last; without this check .NET's "The value cannot be an empty string." named no option.
        var (code, text, err) = Si.Run([.. commandLine.Split(' '), ""]);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Equal("", text);
        Assert.Equal($"error: {message}", err.Split('\n')[0]);
    }

    [Fact]
    public void An_empty_prompt_is_a_prompt()
    {
        // --prompt "" is the BOS token alone: generation starts from nothing, as llama.cpp's does.
        var (code, _, err) = Si.Run("run", "--model", Stories, "--prompt", "", "-n", "4");
        Assert.True(code == ExitCodes.Success, err);
        Assert.Contains("1 prompt tokens", err);
    }

    [Fact]
    public void Convert_checks_the_context_length_while_parsing()
    {
        // The converter's own check (an ArgumentOutOfRangeException) is never reached from the command line.
        var (code, _, err) = Si.Run("convert", "--checkpoint", "a.bin", "--tokenizer", "t.bin", "--output", "o.gguf", "--context", "16777217");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Equal("error: Option --context takes a whole number from 1 to 16777216, got '16777217'.", err.Split('\n')[0]);
    }

    [Fact]
    public void Eval_takes_repeated_plans_and_run_takes_one()
    {
        var parsed = Root.Parse(["eval", "--model", "m.gguf", "--plan", "a.plan.json", "--plan", "b.plan.json", "--prompts", "p.txt"]);
        Assert.Empty(parsed.Errors);
        var plans = (Option<string[]>)parsed.CommandResult.Command.Options.Single(o => o.Name == "--plan");
        Assert.Equal(["a.plan.json", "b.plan.json"], parsed.GetRequiredValue(plans));

        var (code, _, err) = Si.Run("run", "--model", "m.gguf", "--prompt", "x", "--plan", "a.plan.json", "--plan", "b.plan.json");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--plan", err.Split('\n')[0]);
    }

    [Fact]
    public void A_prompt_may_start_with_an_at_sign()
    {
        // System.CommandLine reads "@file" as a response file unless told not to.
        var (code, text, err) = Si.Run("run", "--model", Stories, "--prompt", "@Lily", "-n", "1");
        Assert.True(code == ExitCodes.Success, err);
        Assert.StartsWith("@Lily", text);
    }

    [Fact]
    public void Usage_after_an_error_lists_exactly_the_declared_options()
    {
        foreach (var command in Root.Subcommands)
        {
            var (code, _, err) = Si.Run(command.Name, "--no-such-option");
            Assert.Equal(ExitCodes.Usage, code);
            var usage = err[err.IndexOf("usage: ", StringComparison.Ordinal)..];
            foreach (var option in command.Options.Where(o => o is not HelpOption)) Assert.Contains(option.Name + (option.Arity.MaximumNumberOfValues == 0 ? "]" : " "), usage);
            foreach (var argument in command.Arguments) Assert.Contains(argument.Name, usage);
        }
    }
}
