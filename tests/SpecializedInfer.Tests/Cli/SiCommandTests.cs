using SpecializedInfer.Cli;
using SpecializedInfer.Engine;

namespace SpecializedInfer.Tests.Cli;

/// <summary>The <c>si</c> command run in-process, as a script would see it: text, errors and exit codes.</summary>
public sealed class SiCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-cli-").FullName;

    private static string Stories => ModelLocator.Find("stories260K.gguf");

    private static (int Code, string Out, string Err) Si(params string[] args) => Cli.Si.Run(args);

    [Fact]
    public void Run_greedy_prints_the_reference_story_and_a_speed()
    {
        var (code, text, err) = Si("run", "--model", Stories, "--prompt", "Once upon a time", "-n", "30");
        Assert.Equal(ExitCodes.Success, code);
        Assert.StartsWith("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.", text);
        Assert.Matches(@"30 generated tokens, 29 decode steps in [0-9.]+ ms \([0-9.]+ tokens/s", err);
    }

    [Fact]
    public void Run_with_temperature_is_reproducible_by_seed()
    {
        string Sample(string seed) => Si("run", "--model", Stories, "--prompt", "The dog", "-n", "40", "--temp", "0.9", "--top-p", "0.95", "--seed", seed).Out;
        Assert.Equal(Sample("7"), Sample("7"));
        Assert.NotEqual(Sample("7"), Sample("8"));
    }

    [Fact]
    public void Run_stops_at_the_token_budget()
    {
        var (code, _, err) = Si("run", "--model", Stories, "--prompt", "Hi", "-n", "0");
        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("0 generated tokens", err);
    }

    [Theory]
    [InlineData("")]
    [InlineData("fly")]
    [InlineData("run --prompt x")]
    [InlineData("run --model m.gguf --prompt x --bogus 1")]
    [InlineData("run --model m.gguf --prompt x -n many")]
    [InlineData("run --model m.gguf --prompt x --temp -1")]
    [InlineData("run --model m.gguf --prompt x --top-p 0")]
    [InlineData("inspect")]
    [InlineData("inspect a.gguf b.gguf")]
    [InlineData("synth --output x.gguf")]
    [InlineData("synth --output x.gguf --shape nope")]
    [InlineData("synth --output x.gguf --dim 30 --hidden 8 --layers 1 --heads 4 --vocab 400")]
    [InlineData("convert --checkpoint a.bin")]
    [InlineData("quantize --model a.gguf --output b.gguf")]
    [InlineData("quantize --model a.gguf --type q5_0 --output b.gguf")]
    public void Usage_errors_exit_2_with_a_message(string commandLine)
    {
        var (code, _, err) = Si(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("usage:", err);
    }

    [Fact]
    public void Help_exits_0()
    {
        Assert.Equal(ExitCodes.Success, Si("--help").Code);
        var (code, text, _) = Si("run", "--help");
        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("--model", text);
    }

    [Fact]
    public void Inspect_lists_metadata_and_tensors()
    {
        var (code, text, _) = Si("inspect", Stories);
        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("GGUF v3", text);
        Assert.Contains("llama.block_count", text);
        Assert.Contains("blk.4.ffn_norm.weight", text);
        Assert.Contains("48 tensors", text);
    }

    [Fact]
    public void A_file_that_is_not_gguf_fails_with_exit_1_naming_file_and_offset()
    {
        var path = Path.Combine(_dir, "notes.gguf");
        File.WriteAllText(path, "hello, this is not a model");
        foreach (var args in new[] { new[] { "inspect", path }, new[] { "run", "--model", path, "--prompt", "x" } })
        {
            var (code, _, err) = Si(args);
            Assert.Equal(ExitCodes.Failure, code);
            Assert.Contains(path, err);
            Assert.Contains("byte offset 0", err);
        }
    }

    [Fact]
    public void A_missing_model_fails_with_exit_1()
    {
        var (code, _, err) = Si("run", "--model", Path.Combine(_dir, "absent.gguf"), "--prompt", "x");
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Contains("absent.gguf", err);
    }

    [Fact]
    public void Synth_writes_a_model_the_engine_runs()
    {
        var path = Path.Combine(_dir, "tiny.gguf");
        var (code, _, err) = Si("synth", "--output", path, "--dim", "48", "--hidden", "100", "--layers", "2", "--heads", "4",
            "--kv-heads", "2", "--vocab", "420", "--context", "64", "--separate-output", "true", "--seed", "3");
        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("wrote", err);
        using var engine = ReferenceEngine.Load(path);
        Assert.Equal((48, 100, 2, 4, 2, 420, 64, false),
            (engine.Config.Dim, engine.Config.HiddenDim, engine.Config.Layers, engine.Config.Heads, engine.Config.KvHeads,
             engine.Config.VocabSize, engine.Config.ContextLength, engine.Config.TiedOutput));
        var (runCode, text, _) = Si("run", "--model", path, "--prompt", "abc", "-n", "5");
        Assert.Equal(ExitCodes.Success, runCode);
        Assert.StartsWith("abc", text);
    }

    [Fact]
    public void Synth_is_deterministic_per_seed()
    {
        string Write(string name, string seed)
        {
            var path = Path.Combine(_dir, name);
            Assert.Equal(ExitCodes.Success, Si("synth", "--output", path, "--shape", "stories260K", "--seed", seed).Code);
            return path;
        }
        var a = File.ReadAllBytes(Write("a.gguf", "5"));
        Assert.Equal(a, File.ReadAllBytes(Write("b.gguf", "5")));
        Assert.NotEqual(a, File.ReadAllBytes(Write("c.gguf", "6")));
    }

    [Theory]
    [InlineData("qwen2.5-0.5b", "qwen2", false, 1e-6f, 1000000f, "qwen2")]
    [InlineData("llama-3.2-1b", "llama", true, 1e-5f, 500000f, "llama-bpe")]
    [InlineData("smollm2-135m", "llama", false, 1e-5f, 100000f, "smollm")]
    public void Synth_keeps_what_a_shape_fixes_beyond_its_sizes(string shape, string architecture, bool ropeFactors, float eps, float theta, string pre)
    {
        // Sizes shrunk on the command line; the architecture, rope base and scaling and epsilon still come from the shape.
        var path = Path.Combine(_dir, shape + ".gguf");
        Assert.Equal(ExitCodes.Success, Si("synth", "--output", path, "--shape", shape, "--dim", "64", "--hidden", "128", "--layers", "2",
            "--heads", "4", "--kv-heads", "2", "--vocab", "400", "--context", "128").Code);
        using var weights = Models.LlamaWeights.Load(path);
        Assert.Equal(architecture, weights.Config.Architecture);
        Assert.Equal(ropeFactors, weights.Config.RopeFrequencyFactors);
        Assert.Equal((eps, theta), (weights.Config.NormEps, weights.Config.RopeTheta));
        // The family's byte-level BPE vocabulary, as the real download has it: llama.cpp tokenizes with it as we do.
        Assert.Equal("gpt2", weights.File.GetString("tokenizer.ggml.model"));
        Assert.Equal(pre, weights.File.GetString("tokenizer.ggml.pre"));
        var ours = Assert.IsType<SpecializedInfer.Tokenization.ByteLevelBpeTokenizer>(SpecializedInfer.Tokenization.Tokenizers.FromGguf(path));
        using var oracle = new LlamaCppOracle(path, contextSize: 64);
        foreach (var text in new[] { "Once upon a time, Pip said: \"I'm ready!\" 4,472 days.", "<|im_start|>user\nhello<|im_end|>", "def f(x):\n    return x * 12" })
            Assert.Equal(oracle.Tokenize(text, addBos: true, parseSpecial: true), ours.Encode(text, true, true));
    }

    [Fact]
    public void Convert_writes_a_model_that_generates_the_same_story()
    {
        var path = Path.Combine(_dir, "converted.gguf");
        var (code, _, _) = Si("convert", "--checkpoint", ModelLocator.Find("stories260K.bin"), "--tokenizer", ModelLocator.Find("tok512.bin"), "--output", path);
        Assert.Equal(ExitCodes.Success, code);
        var fromConverted = Si("run", "--model", path, "--prompt", "Once upon a time", "-n", "40").Out;
        var fromShipped = Si("run", "--model", Stories, "--prompt", "Once upon a time", "-n", "40").Out;
        Assert.Equal(fromShipped, fromConverted);
    }

    [Fact]
    public void Quantize_writes_llama_cpps_file_and_refuses_what_it_refuses()
    {
        var input = Path.Combine(_dir, "k256.gguf");
        Synthesis.SyntheticModel.Write(Support.QuantizedModels.K256 with { Layers = 1 }, input);
        var ours = Path.Combine(_dir, "k256.q4_0.gguf");
        var (code, _, err) = Si("quantize", "--model", input, "--type", "Q4_0", "--output", ours);
        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("Q4_0", err);
        var theirs = Path.Combine(_dir, "k256.q4_0.llama.gguf");
        LlamaCppOracle.Quantize(input, theirs, "q4_0");
        Assert.Equal(File.ReadAllBytes(theirs), File.ReadAllBytes(ours));

        (code, _, err) = Si("quantize", "--model", Stories, "--type", "q8_0", "--output", Path.Combine(_dir, "refused.gguf"));
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Contains("blk.0.ffn_down.weight", err);
        Assert.DoesNotContain("   at ", err);
        Assert.False(File.Exists(Path.Combine(_dir, "refused.gguf")));
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
