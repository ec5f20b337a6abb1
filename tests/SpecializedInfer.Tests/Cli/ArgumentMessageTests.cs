using System.Text.RegularExpressions;
using SpecializedInfer.Cli;
using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Cli;

/// <summary>
/// Argument errors thrown where user input arrives (token ids, prompts, sampling settings, a vocabulary read from a
/// file) keep their exception types, and their messages are sentences: no "(Parameter 'x')", no "Actual value was".
/// Sessions' own (token ids, rewinds, prompts) are the session contract's, checked over every engine
/// (tests/Shared/SessionContract.cs).
/// </summary>
public sealed class ArgumentMessageTests
{
    private static string Stories => ModelLocator.Find("stories260K.gguf");

    private static void AssertSentence(string expected, Exception e)
    {
        Assert.Equal(expected, e.Message);
        Assert.Null((e as ArgumentException)?.ParamName);
    }

    [Fact]
    public void Tokenizer_ids_and_vocabulary()
    {
        using var engine = ReferenceEngine.Load(Stories);
        var tokenizer = LlamaTokenizer.FromGguf(engine.Weights.File);
        AssertSentence("Token id 512 is outside the vocabulary: ids run from 0 to 511.", Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.TokenBytes(512)));
        string[] tokens = ["<unk>", "<s>", "</s>", "a"];
        float[] scores = [0, 0, 0, -1];
        int[] types = [2, 3, 3, 1];
        AssertSentence("The BOS token is 9; it must be a token id from 0 to 3, or -1 for none.",
            Assert.Throws<ArgumentOutOfRangeException>(() => new LlamaTokenizer(tokens, scores, types, 9, 2, 0)));
        AssertSentence("The vocabulary has 3 scores for 4 tokens.", Assert.Throws<ArgumentException>(() => new LlamaTokenizer(tokens, scores[..3], types, 1, 2, 0)));
        AssertSentence("Duplicate token text 'a' at ids 3 and 4.",
            Assert.Throws<ArgumentException>(() => new LlamaTokenizer([.. tokens, "a"], [.. scores, 0], [.. types, 1], 1, 2, 0)));
    }

    [Fact]
    public void Text_generator_prompts()
    {
        using var engine = ReferenceEngine.Load(Stories);
        using var session = engine.CreateSession(4);
        var generator = new TextGenerator(session, new Sampler(SamplingOptions.Greedy, 512), 2);
        AssertSentence("The prompt needs at least one token (usually BOS).", Assert.Throws<ArgumentException>(() => generator.Generate([], 3)));
        AssertSentence("The prompt of 5 tokens does not fit the 4 free positions of the 4-position context.",
            Assert.Throws<ArgumentException>(() => generator.Generate([1, 2, 3, 4, 5], 3)));
        Assert.Equal(0, session.Position);
    }

    [Fact]
    public void Si_synth_prints_the_specs_problem_as_a_sentence()
    {
        // As a user runs it: a synthetic vocabulary too small for its specials, 256 bytes and single characters.
        var path = Path.Combine(Path.GetTempPath(), $"si-small-vocab-{Guid.NewGuid():N}.gguf");
        var (code, _, err) = Si.Run("synth", "--output", path, "--dim", "64", "--hidden", "128", "--layers", "1", "--heads", "4", "--vocab", "100");
        Assert.Equal(ExitCodes.Usage, code);
        var error = err.Split('\n')[0].TrimEnd('\r');
        Assert.Equal("error: The vocabulary must have at least 333 tokens (specials, 256 bytes, single characters), not 100.", error);
        Assert.DoesNotContain("(Parameter", err);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Si_eval_prints_a_window_longer_than_the_context_as_a_sentence()
    {
        var dir = Directory.CreateTempSubdirectory("si-window-").FullName;
        try
        {
            var prompts = Path.Combine(dir, "prompts.txt");
            var text = Path.Combine(dir, "text.txt");
            var plan = Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.full.plan.json");
            File.WriteAllText(prompts, "Once upon a time\n");
            File.WriteAllText(text, "Once upon a time there was a cat.\n");
            var (code, _, err) = Si.Run("eval", "--model", Stories, "--plan", plan, "--prompts", prompts, "--text", text, "--window", "4096", "-n", "2");
            Assert.Equal(ExitCodes.Failure, code);
            Assert.Equal("error: A perplexity window of 4096 tokens exceeds the models' context of 2048.", err.TrimEnd());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>
    /// A guard beside the cases above: no argument exception in the libraries, the CLI or a generated engine is built
    /// with a parameter name (which appends " (Parameter 'x')" to its message), and no range guard of .NET's
    /// (<c>ArgumentOutOfRangeException.ThrowIfNegative</c> and friends, whose messages are not sentences) is used.
    /// Null checks keep .NET's <c>ArgumentNullException.ThrowIfNull</c>: a null is a programming error, not input.
    /// </summary>
    [Fact]
    public void No_argument_exception_is_built_with_a_parameter_name()
    {
        var root = Path.GetDirectoryName(ReferencePlanExecutionTests.RepositoryModels)!;
        var withName = new Regex(@"new\s+(global::)?(System\.)?Argument(OutOfRange)?Exception\((?:[^;]|\n)*?nameof\(", RegexOptions.CultureInvariant);
        var rangeGuard = new Regex(@"Argument(OutOfRange)?Exception\.ThrowIf(?!Null\()", RegexOptions.CultureInvariant);
        var files = new[] { "src", "examples", Path.Combine("tests", "SpecializedInfer.Generator.Tests", "Baselines") }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .ToList();
        Assert.NotEmpty(files);
        var found = files.SelectMany(f =>
        {
            var source = File.ReadAllText(f);
            return withName.Matches(source).Concat(rangeGuard.Matches(source))
                .Select(m => $"{Path.GetRelativePath(root, f)}:{source[..m.Index].Count(c => c == '\n') + 1}");
        }).ToList();
        Assert.Empty(found);
    }

    [Fact]
    public void Sampler_settings_and_logits()
    {
        AssertSentence("top-p must be above 0 and at most 1, not 0.",
            Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(new SamplingOptions { TopP = 0 }, 4)));
        AssertSentence("The temperature must be a finite number of at least 0, not -1.",
            Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(new SamplingOptions { Temperature = -1 }, 4)));
        AssertSentence("top-k must be at least 0, not -2.", Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(new SamplingOptions { TopK = -2 }, 4)));
        AssertSentence("The sampler was made for 4 logits (the vocabulary), got 3.", Assert.Throws<ArgumentException>(() => new Sampler(SamplingOptions.Greedy, 4).Sample([1f, 2f, 3f])));
    }
}
