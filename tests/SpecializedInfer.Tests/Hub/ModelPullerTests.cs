using System.Text;
using SpecializedInfer.Conversion;
using SpecializedInfer.Hub;
using SpecializedInfer.Tests.Gguf;

namespace SpecializedInfer.Tests.Hub;

/// <summary>
/// Pulling models from the loopback hub: GGUF files as they are, llama2.c checkpoints converted with their tokenizer
/// (the oracle: <see cref="Llama2cConverter"/> run on the same two files directly), and the cache answering offline.
/// </summary>
public sealed class ModelPullerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-pull-").FullName;
    private readonly FakeHub _hub = new();

    public void Dispose()
    {
        _hub.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<PulledModel> Pull(string reference, HubSettings? settings = null, string? tokenizer = null)
    {
        settings ??= new HubSettings(_hub.Endpoint, null, _dir);
        using var downloader = new HubDownloader(settings);
        return await new ModelPuller(settings, downloader).PullAsync(HubReference.Parse(reference), tokenizer);
    }

    [Fact]
    public async Task A_gguf_file_is_pulled_as_it_is_and_then_served_from_the_cache_offline()
    {
        _hub.Add("ggml-org/models/tinyllamas/stories260K.gguf", ShippedModels.GgufBytes());

        var first = await Pull("hf:ggml-org/models/tinyllamas/stories260K.gguf");
        Assert.True(first.Downloaded);
        Assert.False(first.Converted);
        Assert.Equal(ShippedModels.GgufBytes(), File.ReadAllBytes(first.Path));

        _hub.Dispose(); // offline from here
        var again = await Pull("hf:ggml-org/models/tinyllamas/stories260K.gguf");
        Assert.Equal(first.Path, again.Path);
        Assert.False(again.Downloaded);
    }

    [Fact]
    public async Task A_llama2c_checkpoint_is_converted_with_the_tokenizer_beside_it_exactly_as_si_convert_does()
    {
        _hub.Add("karpathy/tinyllamas/stories260K/stories260K.bin", ShippedModels.CheckpointBytes());
        _hub.Add("karpathy/tinyllamas/stories260K/tok512.bin", ShippedModels.TokenizerBytes());

        var pulled = await Pull("hf:karpathy/tinyllamas/stories260K/stories260K.bin");

        Assert.True(pulled.Converted);
        Assert.Equal(Path.Combine(_dir, "converted", "karpathy", "tinyllamas", "stories260K", "stories260K.gguf"), pulled.Path);
        Assert.Equal(Path.Combine(_dir, "hf", "karpathy", "tinyllamas", "stories260K", "tok512.bin"), pulled.Tokenizer);
        var expected = Path.Combine(_dir, "expected.gguf");
        Llama2cConverter.Convert(ShippedModels.CheckpointPath, ShippedModels.TokenizerPath, expected);
        Assert.Equal(File.ReadAllBytes(expected), File.ReadAllBytes(pulled.Path));

        _hub.Dispose();
        var again = await Pull("hf:karpathy/tinyllamas/stories260K/stories260K.bin");
        Assert.Equal(pulled.Path, again.Path);
        Assert.False(again.Downloaded || again.Converted);
    }

    [Fact]
    public async Task A_32000_token_checkpoint_takes_llama2c_tokenizer_from_its_url_without_the_token()
    {
        const int vocab = ModelPuller.Llama2VocabularySize;
        var tokenizer = Llama2cConverterTests.Tokenizer(8, Enumerable.Range(0, vocab).Select(i => (0f, Encoding.UTF8.GetBytes(i switch
        {
            0 => "<unk>", 1 => "<s>", 2 => "</s>",
            < 259 => $"<0x{i - 3:X2}>",
            _ => $"t{i}",
        }))));
        _hub.Add("karpathy/tinyllamas/stories-tiny.bin", Llama2cConverterTests.Checkpoint(8, 16, 1, 2, 2, vocab, 16));
        _hub.RequiredToken = "tok";
        using var github = new LoopbackServer((context, stopping) => LoopbackServer.ServeBytes(context, tokenizer, stopping));
        var settings = new HubSettings(_hub.Endpoint, "tok", _dir) { Llama2Tokenizer = new Uri(github.Url, "/karpathy/llama2.c/master/tokenizer.bin") };

        var pulled = await Pull("hf:karpathy/tinyllamas/stories-tiny.bin", settings);

        Assert.True(pulled.Converted);
        using var file = SpecializedInfer.Gguf.GgufFile.Open(pulled.Path);
        Assert.Equal(vocab, ((Array)file.Metadata.Single(m => m.Key == "tokenizer.ggml.tokens").Value.Value).Length);
        // tok32000.bin and tokenizer.bin were looked for beside the checkpoint first.
        Assert.Contains(_hub.Server.Requests, r => r.Path.EndsWith("/tok32000.bin", StringComparison.Ordinal));
        Assert.Contains(_hub.Server.Requests, r => r.Path.EndsWith("/tokenizer.bin", StringComparison.Ordinal));
        Assert.All(github.Requests, r => Assert.Null(r.Authorization));
    }

    [Fact]
    public async Task A_checkpoint_without_a_tokenizer_says_where_it_looked_and_what_to_give()
    {
        _hub.Add("owner/repo/model.bin", ShippedModels.CheckpointBytes());

        var error = await Assert.ThrowsAsync<ModelNotFoundException>(() => Pull("hf:owner/repo/model.bin"));

        Assert.Contains("hf:owner/repo/tok512.bin", error.Message);
        Assert.Contains("hf:owner/repo/tokenizer.bin", error.Message);
        Assert.Contains("--tokenizer", error.Message);
    }

    [Fact]
    public async Task An_explicit_tokenizer_path_is_used()
    {
        _hub.Add("owner/repo/model.bin", ShippedModels.CheckpointBytes());

        var pulled = await Pull("hf:owner/repo/model.bin", tokenizer: ShippedModels.TokenizerPath);

        Assert.Equal(ShippedModels.TokenizerPath, pulled.Tokenizer);
        Assert.DoesNotContain(_hub.Server.Requests, r => r.Path.Contains("tok", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_file_that_is_neither_gguf_nor_a_checkpoint_is_refused_naming_it()
    {
        _hub.Add("owner/repo/model.safetensors", Encoding.ASCII.GetBytes("not a model at all"));

        var error = await Assert.ThrowsAsync<ModelFormatException>(() => Pull("hf:owner/repo/model.safetensors"));

        Assert.Contains("hf:owner/repo/model.safetensors is neither", error.Message);
    }
}
