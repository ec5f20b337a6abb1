using System.Text;
using Microsoft.Extensions.AI;
using SpecializedInfer.Chat;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tests.Support;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Tests.Chat;

/// <summary>
/// A synthetic Llama 3 style chat model (byte-level BPE vocabulary, Llama 3's Jinja template in its metadata) and
/// stories260K (SentencePiece, no template), each with the reference engine and llama.cpp.
/// </summary>
public sealed class ChatModelFixture : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "si-chatclient-" + Guid.NewGuid().ToString("N")[..8]);

    public ChatModelFixture()
    {
        Directory.CreateDirectory(_dir);
        var vocabulary = BpeVocabulary.Train(mergeCount: 600);
        Llama3Path = Path.Combine(_dir, "llama3-chat.gguf");
        vocabulary.WriteModel(Llama3Path, "llama-bpe", vocabulary.IdOf("<|begin_of_text|>"), vocabulary.IdOf("<|end_of_text|>"),
            [(ChatTemplate.MetadataKey, GgufValue.Of(ChatTemplateTests.Templates[0].Template))]);
        Llama3 = ReferenceEngine.Load(Llama3Path);
        Llama3Oracle = new LlamaCppOracle(Llama3Path, contextSize: 256);
        StoriesPath = ModelLocator.Find("stories260K.gguf");
        Stories = ReferenceEngine.Load(StoriesPath);
        StoriesOracle = new LlamaCppOracle(StoriesPath, contextSize: 256);
    }

    public string Llama3Path { get; }
    public ReferenceEngine Llama3 { get; }
    public LlamaCppOracle Llama3Oracle { get; }
    public string StoriesPath { get; }
    public ReferenceEngine Stories { get; }
    public LlamaCppOracle StoriesOracle { get; }

    public void Dispose()
    {
        Llama3.Dispose();
        Llama3Oracle.Dispose();
        Stories.Dispose();
        StoriesOracle.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

public sealed class LanguageModelChatClientTests(ChatModelFixture fixture) : IClassFixture<ChatModelFixture>
{
    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You are Pip, a little robot."),
        new(ChatRole.User, "What's 12 + 30? Answer briefly 😀"),
    ];

    /// <summary>
    /// The oracle: the engine's own greedy decoding of <paramref name="prompt"/>, written here on the session directly:
    /// argmax (lowest id on ties) of each step's logits, stopping after an end-of-generation token or the budget.
    /// Returns the tokens (the end token included) and the text of their pieces.
    /// </summary>
    private static (List<int> Tokens, string Text, bool Ended) Greedy(ILanguageModel model, ITokenizer tokenizer, int[] prompt, int budget)
    {
        using var session = model.CreateSession();
        var logits = session.Forward(prompt);
        var tokens = new List<int>();
        var bytes = new List<byte>();
        while (tokens.Count < budget)
        {
            var best = 0;
            for (var i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
            tokens.Add(best);
            if (tokenizer.IsEndOfGeneration(best)) return (tokens, Encoding.UTF8.GetString(bytes.ToArray()), true);
            bytes.AddRange(tokenizer.TokenBytes(best).ToArray());
            logits = session.Forward(best);
        }
        return (tokens, Encoding.UTF8.GetString(bytes.ToArray()), false);
    }

    private LanguageModelChatClient Llama3Client() => LanguageModelChatClient.FromGguf(fixture.Llama3, fixture.Llama3Path);

    private static async Task<(string Text, List<ChatResponseUpdate> Updates)> Stream(IChatClient client, IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(messages, options)) updates.Add(update);
        return (string.Concat(updates.Select(u => u.Text)), updates);
    }

    [Fact]
    public void The_prompt_is_the_template_applied_and_tokenized_as_llama_cpp_does()
    {
        using var client = Llama3Client();
        Assert.Equal(ChatTemplateFamily.Llama3, client.Template.Family);
        var turns = Conversation.Select(m => (m.Role.Value, m.Text)).ToArray();
        var text = LlamaCppOracle.ApplyChatTemplate(ChatTemplateTests.Templates[0].Template, turns, addAssistant: true)!;
        var expected = fixture.Llama3Oracle.Tokenize(text, addBos: true, parseSpecial: true);
        Assert.Equal(expected, client.PromptTokens(Conversation));
        Assert.Equal(fixture.Llama3Oracle.BosToken, expected[0]);

        // No template: ChatML, as llama.cpp applies a null template; SentencePiece with BOS.
        using var stories = LanguageModelChatClient.FromGguf(fixture.Stories, fixture.StoriesPath);
        Assert.Equal(ChatTemplateFamily.ChatMl, stories.Template.Family);
        var chatml = LlamaCppOracle.ApplyChatTemplate(null, turns, addAssistant: true)!;
        Assert.Equal(fixture.StoriesOracle.Tokenize(chatml, addBos: true, parseSpecial: true), stories.PromptTokens(Conversation));
    }

    [Fact]
    public async Task Greedy_response_is_the_engines_greedy_generation_of_the_templated_prompt()
    {
        foreach (var (model, path) in new[] { (fixture.Llama3, fixture.Llama3Path), (fixture.Stories, fixture.StoriesPath) })
        {
            using var client = LanguageModelChatClient.FromGguf(model, path);
            var prompt = client.PromptTokens(Conversation);
            var (tokens, text, ended) = Greedy(model, client.Tokenizer, prompt, 40);

            var response = await client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 40 });
            Assert.Equal(text, response.Text);
            Assert.Equal(ended ? ChatFinishReason.Stop : ChatFinishReason.Length, response.FinishReason);
            Assert.Equal(prompt.Length, response.Usage!.InputTokenCount);
            Assert.Equal(tokens.Count, response.Usage.OutputTokenCount);
            Assert.Equal(prompt.Length + tokens.Count, response.Usage.TotalTokenCount);
            Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);
            Assert.True(text.Length > 10, $"the greedy text should be long enough to show something: \"{text}\"");

            var (streamed, updates) = await Stream(client, Conversation, new ChatOptions { MaxOutputTokens = 40 });
            Assert.Equal(text, streamed);
            Assert.True(updates.Count > 5);
            Assert.Equal(response.FinishReason, updates[^1].FinishReason);
            Assert.Equal(tokens.Count, Assert.Single(updates[^1].Contents.OfType<UsageContent>()).Details.OutputTokenCount);
        }
    }

    [Fact]
    public async Task A_cascade_and_a_self_agreeing_pair_answer_like_the_full_model()
    {
        using var cascade = new Cascade(fixture.Llama3, fixture.Llama3, Cascade.MaxProbability(0.5));
        using var viaCascade = LanguageModelChatClient.FromGguf(cascade, fixture.Llama3Path);
        using var direct = Llama3Client();
        var options = new ChatOptions { MaxOutputTokens = 30 };
        Assert.Equal((await direct.GetResponseAsync(Conversation, options)).Text, (await viaCascade.GetResponseAsync(Conversation, options)).Text);
    }

    [Fact]
    public async Task Max_output_tokens_cuts_the_response_and_reports_length()
    {
        using var client = Llama3Client();
        var (tokens, _, _) = Greedy(fixture.Llama3, client.Tokenizer, client.PromptTokens(Conversation), 40);
        Assert.True(tokens.Take(5).All(t => !client.Tokenizer.IsEndOfGeneration(t)), "the first five greedy tokens should not end the turn");
        var expected = Encoding.UTF8.GetString(tokens.Take(5).SelectMany(t => client.Tokenizer.TokenBytes(t).ToArray()).ToArray());
        var response = await client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 5 });
        Assert.Equal(expected, response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(5, response.Usage!.OutputTokenCount);

        var none = await client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 0 });
        Assert.Equal("", none.Text);
        Assert.Equal(0, none.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_response_before_it_and_never_streams_part_of_it()
    {
        using var client = LanguageModelChatClient.FromGguf(fixture.Stories, fixture.StoriesPath);
        var full = (await client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 60 })).Text;
        Assert.True(full.Length > 20, full);
        // A stop sequence that starts mid-way and spans what are likely several tokens.
        var stop = full.Substring(full.Length / 2, 4);
        var cut = full[..full.IndexOf(stop, StringComparison.Ordinal)];

        var response = await client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 60, StopSequences = ["never appears", stop] });
        Assert.Equal(cut, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);

        var (streamed, updates) = await Stream(client, Conversation, new ChatOptions { MaxOutputTokens = 60, StopSequences = [stop] });
        Assert.Equal(cut, streamed);
        Assert.All(updates, u => Assert.DoesNotContain(stop, u.Text, StringComparison.Ordinal));
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
    }

    [Fact]
    public async Task Seeded_sampling_is_reproducible_and_is_the_sampler_with_the_options_mapped()
    {
        using var client = Llama3Client();
        var options = new ChatOptions { Temperature = 0.9f, TopK = 50, TopP = 0.95f, Seed = 1234, MaxOutputTokens = 30 };
        var first = await client.GetResponseAsync(Conversation, options);
        var second = await client.GetResponseAsync(Conversation, options);
        Assert.Equal(first.Text, second.Text);

        // The same draw written out: the library's sampler with the options as SamplingOptions.
        var sampler = new Sampler(new SamplingOptions { Temperature = 0.9f, TopK = 50, TopP = 0.95f, Seed = 1234 }, fixture.Llama3.Config.VocabSize);
        using var session = fixture.Llama3.CreateSession();
        var logits = session.Forward(client.PromptTokens(Conversation));
        var bytes = new List<byte>();
        for (var n = 0; n < 30; n++)
        {
            var token = sampler.Sample(logits);
            if (client.Tokenizer.IsEndOfGeneration(token)) break;
            bytes.AddRange(client.Tokenizer.TokenBytes(token).ToArray());
            logits = session.Forward(token);
        }
        Assert.Equal(Encoding.UTF8.GetString(bytes.ToArray()), first.Text);

        var other = await client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0.9f, TopK = 50, TopP = 0.95f, Seed = 99, MaxOutputTokens = 30 });
        Assert.NotEqual(first.Text, other.Text);
    }

    [Fact]
    public async Task Cancellation_stops_a_request_before_and_during_generation()
    {
        using var client = Llama3Client();
        using var before = new CancellationTokenSource();
        await before.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync(Conversation, null, before.Token));

        using var during = new CancellationTokenSource();
        var received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 100 }, during.Token))
            {
                if (++received == 2) await during.CancelAsync();
            }
        });
        Assert.Equal(2, received);
    }

    [Fact]
    public void Options_map_onto_the_defaults_and_bad_values_are_refused()
    {
        using var client = new LanguageModelChatClient(fixture.Llama3, Tokenizers.FromGguf(fixture.Llama3Path),
            defaults: new SamplingOptions { Temperature = 0.5f, TopK = 7, Seed = 3 });
        Assert.Equal(new SamplingOptions { Temperature = 0.5f, TopK = 7, Seed = 3 }, client.SamplingFor(null));
        Assert.Equal(new SamplingOptions { Temperature = 0f, TopK = 7, TopP = 0.5f, Seed = 9 },
            client.SamplingFor(new ChatOptions { Temperature = 0, TopP = 0.5f, Seed = 9 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => client.SamplingFor(new ChatOptions { TopP = 0 }));
        Assert.Throws<ArgumentException>(() => new LanguageModelChatClient(fixture.Llama3, Tokenizers.FromGguf(fixture.StoriesPath)));
    }

    [Fact]
    public void GetService_offers_the_metadata_the_engine_and_the_tokenizer()
    {
        using var client = Llama3Client();
        IChatClient chat = client;
        Assert.Equal("SpecializedInfer", chat.GetService<ChatClientMetadata>()!.ProviderName);
        Assert.Equal(fixture.Llama3.Name, chat.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Same(fixture.Llama3, chat.GetService<ILanguageModel>());
        Assert.Same(client.Tokenizer, chat.GetService<ITokenizer>());
        Assert.Same(client, chat.GetService<LanguageModelChatClient>());
        Assert.Null(chat.GetService<ILanguageModel>("some key"));
    }

    [Fact]
    public async Task Instructions_are_a_leading_system_message()
    {
        using var client = Llama3Client();
        ChatMessage[] user = [new(ChatRole.User, "Hello")];
        Assert.Equal(client.PromptTokens([new(ChatRole.System, "Be brief."), .. user]),
            client.PromptTokens(user, new ChatOptions { Instructions = "Be brief." }));
        var a = await client.GetResponseAsync(user, new ChatOptions { Instructions = "Be brief.", MaxOutputTokens = 10 });
        var b = await client.GetResponseAsync([new(ChatRole.System, "Be brief."), .. user], new ChatOptions { MaxOutputTokens = 10 });
        Assert.Equal(b.Text, a.Text);
    }
}
