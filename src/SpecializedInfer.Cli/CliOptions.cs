using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace SpecializedInfer.Cli;

/// <summary>
/// The kinds of option the <c>si</c> commands take, each declared with its type, default and description. Values
/// are parsed in the invariant culture and checked against their range while the command line is parsed, so a bad
/// value is a usage error (exit 2) naming the option, what it takes and what was given, before anything is loaded.
/// </summary>
internal static class CliOptions
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// A file named on the command line without an option (<c>si inspect MODEL.gguf</c>). The parser would take an
    /// unknown option there for the file name; it is rejected as the unknown option it most likely is. An empty value
    /// names no file and is rejected too.
    /// </summary>
    public static Argument<string> File(string name, string description)
    {
        var argument = new Argument<string>(name) { Description = description };
        argument.Validators.Add(result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (text.Length > 1 && text[0] == '-') result.AddError($"Unrecognized option '{text}'.");
            if (result.Tokens.Count == 1 && text.Length == 0) result.AddError($"{name} needs a value; it was given an empty one.");
        });
        return argument;
    }

    /// <summary>A path that must be given once, e.g. <c>--model MODEL.gguf</c>.</summary>
    public static Option<string> RequiredPath(string name, string valueName, string description) =>
        NonEmpty(new Option<string>(name) { HelpName = valueName, Description = description, Required = true }, PathKind(valueName));

    /// <summary>A path that may be left out (null then).</summary>
    /// <param name="what">What the value is, for the error an empty one gets (default: a file path, or a folder path for DIR).</param>
    public static Option<string?> OptionalPath(string name, string valueName, string description, string? what = null) =>
        NonEmpty(new Option<string?>(name) { HelpName = valueName, Description = description }, what ?? PathKind(valueName));

    /// <summary>A path given one or more times, each with one value: <c>--plan A --plan B</c>.</summary>
    public static Option<string[]> RepeatedPaths(string name, string valueName, string description) =>
        NonEmpty(new Option<string[]>(name)
        {
            HelpName = valueName, Description = description, Required = true,
            Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false,
        }, PathKind(valueName));

    private static string PathKind(string valueName) => valueName == "DIR" ? "a folder path" : "a file path";

    /// <summary>
    /// Text that must be given once, where an empty value means something (<c>--prompt ""</c>: generate from BOS
    /// alone); a path is a <see cref="RequiredPath"/>.
    /// </summary>
    public static Option<string> RequiredText(string name, string valueName, string description) =>
        new(name) { HelpName = valueName, Description = description, Required = true };

    /// <summary>A name that may be left out (null then); given, it may not be empty.</summary>
    public static Option<string?> OptionalName(string name, string valueName, string description) =>
        NonEmpty(new Option<string?>(name) { HelpName = valueName, Description = description }, "a name");

    /// <summary>
    /// Rejects an empty value while the command line is parsed (a usage error naming the option), where .NET would
    /// fail later with "The value cannot be an empty string." naming no option: <c>--plan ""</c>.
    /// </summary>
    private static TOption NonEmpty<TOption>(TOption option, string what) where TOption : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Any(t => t.Value.Length == 0)) result.AddError($"{option.Name} needs {what}; it was given an empty value.");
        });
        return option;
    }

    /// <summary>A switch without a value.</summary>
    public static Option<bool> Flag(string name, string description) =>
        new(name) { Description = description, Arity = ArgumentArity.Zero };

    /// <summary>One of a fixed set of words (compared ignoring case; the value is the set's spelling).</summary>
    public static Option<string?> Choice(string name, string description, IReadOnlyCollection<string> choices) =>
        new(name)
        {
            HelpName = string.Join("|", choices), Description = description,
            CustomParser = result => Parse<string>(result, text => choices.FirstOrDefault(c => string.Equals(c, text, StringComparison.OrdinalIgnoreCase)),
                $"{Words(choices)}"),
        };

    /// <summary>
    /// <c>--engine reference|generated</c>: the executor a command runs (<see cref="Engines.EngineFactory"/>). The
    /// reference engine is the default: it starts at once and is the oracle; a generated engine costs a compilation
    /// the first time a plan runs (cached after that) and then runs the plan's specialized code.
    /// </summary>
    public static Option<string?> Engine() =>
        Choice("--engine", "Which engine runs: the reference engine (default), or the plan's generated engine, compiled in-process and cached.", Engines.EngineKinds.Names);

    /// <summary><c>--threads</c>: the threads a session computes on (default: the physical cores).</summary>
    public static Option<int?> Threads() =>
        OptionalWhole("--threads", "N", "Threads a forward pass runs on (default: the physical cores); the output is the same for any number.", 1, SpecializedInfer.Engine.WorkerPool.MaxThreads);

    /// <summary><c>--engine</c> for a command whose default is the generated engine (si plan times what will be shipped).</summary>
    public static Option<string?> EngineDefaultGenerated() =>
        Choice("--engine", "Which engine times the candidates: their generated engines (default), compiled in-process and cached, or the reference engine.", Engines.EngineKinds.Names);

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>, <paramref name="fallback"/> when not given.</summary>
    public static Option<T> Whole<T>(string name, string valueName, string description, T fallback, T min, T max)
        where T : struct, IBinaryInteger<T> =>
        new(name)
        {
            HelpName = valueName, Description = description, DefaultValueFactory = _ => fallback,
            CustomParser = result => Parse<T?>(result, text => ParseNumber(text, NumberStyles.Integer, min, max), WholeRange(min, max)) ?? fallback,
        };

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>; null when not given.</summary>
    public static Option<T?> OptionalWhole<T>(string name, string valueName, string description, T min, T max)
        where T : struct, IBinaryInteger<T> =>
        new(name)
        {
            HelpName = valueName, Description = description,
            CustomParser = result => Parse<T?>(result, text => ParseNumber(text, NumberStyles.Integer, min, max), WholeRange(min, max)),
        };

    /// <summary>A required comma-separated list of distinct whole numbers from <paramref name="min"/> to <paramref name="max"/>: <c>--exits 1,2,3</c>.</summary>
    public static Option<int[]> WholeList(string name, string valueName, string description, int min, int max) =>
        new(name)
        {
            HelpName = valueName, Description = description, Required = true, Arity = ArgumentArity.ExactlyOne,
            CustomParser = result => Parse<int[]>(result, text =>
                {
                    var parts = text.Split(',');
                    var values = parts.Select(p => ParseNumber(p.Trim(), NumberStyles.Integer, min, max)).ToArray();
                    return values.All(v => v is not null) && values.Distinct().Count() == values.Length ? values.Select(v => v!.Value).ToArray() : null;
                },
                string.Create(Inv, $"distinct whole numbers from {min} to {max} separated by commas")) ?? [],
        };

    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>], or (<paramref name="min"/>, <paramref name="max"/>] when <paramref name="aboveMin"/>.</summary>
    public static Option<float> Real(string name, string valueName, string description, float fallback, float min, float max, bool aboveMin = false) =>
        new(name)
        {
            HelpName = valueName, Description = description, DefaultValueFactory = _ => fallback,
            CustomParser = result => Parse<float?>(result,
                text => ParseNumber(text, NumberStyles.Float, min, max) is { } v && (!aboveMin || v > min) ? v : null,
                string.Create(Inv, $"a number {(aboveMin ? "above" : "from")} {min} {(aboveMin ? "and at most" : "to")} {max}")) ?? fallback,
        };

    /// <summary>A number above <paramref name="min"/> and below <paramref name="max"/> (both excluded), kept in double precision.</summary>
    public static Option<double> Between(string name, string valueName, string description, double fallback, double min, double max) =>
        new(name)
        {
            HelpName = valueName, Description = description, DefaultValueFactory = _ => fallback,
            CustomParser = result => Parse<double?>(result,
                text => ParseNumber(text, NumberStyles.Float, min, max) is { } v && v > min && v < max ? v : null,
                string.Create(Inv, $"a number above {min} and below {max}")) ?? fallback,
        };

    private static string WholeRange<T>(T min, T max) where T : IBinaryInteger<T> =>
        string.Create(Inv, $"a whole number from {min} to {max}");

    private static T? ParseNumber<T>(string text, NumberStyles style, T min, T max) where T : struct, INumber<T> =>
        T.TryParse(text, style, Inv, out var v) && v >= min && v <= max ? v : null;

    /// <summary>The value of the option's single token, or a parse error in the form every option uses.</summary>
    private static T? Parse<T>(ArgumentResult result, Func<string, T?> parse, string expected)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        var value = parse(text);
        if (value is null)
        {
            var option = ((OptionResult)result.Parent!).Option;
            result.AddError($"Option {option.Name} takes {expected}, got '{text}'.");
        }
        return value;
    }

    /// <summary>"a, b or c" (or "and").</summary>
    public static string Words(IReadOnlyCollection<string> words, string conjunction = "or") =>
        words.Count <= 1 ? string.Concat(words) : string.Join(", ", words.Take(words.Count - 1)) + $" {conjunction} " + words.Last();
}
