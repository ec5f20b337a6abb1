using SpecializedInfer.Cli;
using SpecializedInfer.Hub;
using SpecializedInfer.Tests.Gguf;
using SpecializedInfer.Tests.Hub;

namespace SpecializedInfer.Tests.Cli;

/// <summary>
/// <c>si pull</c> and <c>--model hf:...</c> against the loopback hub (HF_ENDPOINT points at it; the tests of this class
/// run one at a time, so the variables they set do not cross).
/// </summary>
public sealed class PullCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-pull-cli-").FullName;
    private readonly FakeHub _hub = new();
    private readonly Dictionary<string, string?> _saved = [];

    public PullCommandTests()
    {
        Set(HubSettings.EndpointVariable, _hub.Endpoint.AbsoluteUri);
        Set(HubSettings.TokenVariable, null);
        Set(ModelCache.EnvironmentVariable, Path.Combine(_dir, "cache"));
        _hub.Add("karpathy/tinyllamas/stories260K/stories260K.bin", ShippedModels.CheckpointBytes());
        _hub.Add("karpathy/tinyllamas/stories260K/tok512.bin", ShippedModels.TokenizerBytes());
    }

    private void Set(string name, string? value)
    {
        _saved.TryAdd(name, Environment.GetEnvironmentVariable(name));
        Environment.SetEnvironmentVariable(name, value);
    }

    public void Dispose()
    {
        foreach (var (name, value) in _saved) Environment.SetEnvironmentVariable(name, value);
        _hub.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private const string Checkpoint = "hf:karpathy/tinyllamas/stories260K/stories260K.bin";

    [Fact]
    public void Pull_prints_the_converted_model_and_run_takes_the_reference_offline_with_the_same_text_as_the_gguf()
    {
        var (code, output, error) = Si.Run("pull", Checkpoint);

        Assert.Equal(ExitCodes.Success, code);
        var path = Path.Combine(_dir, "cache", "converted", "karpathy", "tinyllamas", "stories260K", "stories260K.gguf");
        Assert.Equal(path + Environment.NewLine, output);
        Assert.Contains($"downloading {Checkpoint} (1,056,540 bytes)", error);
        Assert.Contains($"downloaded {Checkpoint}", error);
        Assert.Contains("converted the llama2.c checkpoint to GGUF with the tokenizer", error);

        _hub.Dispose(); // offline: the cache answers
        var again = Si.Run("pull", Checkpoint);
        Assert.Equal(ExitCodes.Success, again.Code);
        Assert.Contains("is already in the cache", again.Err);

        var fromHub = Si.Run("run", "--model", Checkpoint, "--prompt", "Once upon a time", "-n", "24");
        var fromFile = Si.Run("run", "--model", ShippedModels.GgufPath, "--prompt", "Once upon a time", "-n", "24");
        Assert.Equal(ExitCodes.Success, fromHub.Code);
        Assert.Equal(fromFile.Out, fromHub.Out);
        Assert.StartsWith("Once upon a time, there was a little girl named Lily.", fromHub.Out);
    }

    [Fact]
    public void The_cache_option_overrides_the_variable()
    {
        var cache = Path.Combine(_dir, "other");
        var (code, output, _) = Si.Run("pull", Checkpoint, "--cache", cache);
        Assert.Equal(ExitCodes.Success, code);
        Assert.StartsWith(Path.Combine(cache, "converted"), output);
    }

    [Fact]
    public void Inspect_takes_an_hf_reference()
    {
        _hub.Add("ggml-org/models/stories260K.gguf", ShippedModels.GgufBytes());
        var (code, output, _) = Si.Run("inspect", "hf:ggml-org/models/stories260K.gguf");
        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("GGUF v3", output);
    }

    [Theory]
    [InlineData("pull", "hf:owner/repo/absent.gguf")]
    [InlineData("run", "--model", "hf:owner/repo/absent.gguf", "--prompt", "x")]
    public void A_missing_hub_file_is_one_error_line_and_exit_1(params string[] args)
    {
        var (code, _, error) = Si.Run(args);

        Assert.Equal(ExitCodes.Failure, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: hf:owner/repo/absent.gguf was not found", line);
        Assert.Contains("HTTP 404", line);
        Assert.Empty(Directory.EnumerateFiles(_dir, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void An_unreachable_hub_is_exit_1_saying_what_was_tried_and_what_to_do()
    {
        var url = _hub.Endpoint.AbsoluteUri;
        _hub.Dispose();

        var (code, _, error) = Si.Run("pull", "hf:owner/repo/m.gguf");

        Assert.Equal(ExitCodes.Failure, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("could not be reached", line);
        Assert.Contains($"tried {url}owner/repo/resolve/main/m.gguf", line);
        Assert.Contains("HF_ENDPOINT", line);
    }

    [Theory]
    [InlineData("stories15M.bin")]
    [InlineData("hf:owner/repo")]
    [InlineData("hf:owner/repo/../x")]
    public void A_malformed_reference_is_a_usage_error(string reference)
    {
        var (code, _, error) = Si.Run("pull", reference);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("hf:OWNER/REPO/FILE", error);
        Assert.Contains("usage: si pull", error);
    }

    [Fact]
    public void A_bad_endpoint_variable_is_one_error_line()
    {
        Set(HubSettings.EndpointVariable, "ftp://example");
        var (code, _, error) = Si.Run("pull", Checkpoint);
        Assert.Equal(ExitCodes.Failure, code);
        Assert.Equal("error: HF_ENDPOINT=ftp://example is not an http or https address; unset it to use https://huggingface.co.", error.Trim());
        // Finding a model by name does not read the hub settings, so it is not affected.
        Assert.Equal(ExitCodes.Success, Si.Run("inspect", ShippedModels.Gguf).Code);
    }
}
