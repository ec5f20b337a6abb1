using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using SpecializedInfer.Engine;
using SpecializedInfer.Generation;
using SpecializedInfer.Gguf;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Chat;

/// <summary>
/// Any decoder engine — the reference engine, a generated engine, a <see cref="Cascade"/> — as a Microsoft.Extensions.AI
/// <see cref="IChatClient"/>. Each request lays the messages out with the model's <see cref="ChatTemplate"/> (ending
/// with the assistant's opening), tokenizes that as llama.cpp's chat does (the model's BOS, special-token text parsed),
/// and generates in a new session until an end-of-generation token, a stop sequence, <see cref="ChatOptions.MaxOutputTokens"/>
/// or a full context. The response text is the generated tokens' pieces, as llama.cpp's server returns them.
/// </summary>
/// <remarks>
/// <see cref="ChatOptions"/> maps to <see cref="SamplingOptions"/>: <see cref="ChatOptions.Temperature"/> (0 is greedy,
/// which on a lossless plan decodes self-speculatively), <see cref="ChatOptions.TopK"/>, <see cref="ChatOptions.TopP"/>,
/// <see cref="ChatOptions.Seed"/>; what a request leaves unset comes from the client's defaults (greedy unless given).
/// <see cref="ChatOptions.Instructions"/> becomes a leading system message. Tools, response formats and penalties are
/// not used. Requests may run concurrently: each has its own session. Usage counts the templated prompt's tokens and
/// every generated token, the end-of-turn token included.
/// </remarks>
public sealed class LanguageModelChatClient : IChatClient
{
    private readonly ChatClientMetadata _metadata;
    private readonly bool _ownsModel;

    /// <param name="model">The engine; disposed with the client when <paramref name="ownsModel"/>.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="template">The model's chat template (ChatML when null, as llama.cpp applies a missing template).</param>
    /// <param name="defaults">Sampling for what a request does not set (greedy when null).</param>
    /// <param name="contextLength">Positions of each request's session (0: the model's trained context).</param>
    /// <param name="ownsModel">Dispose the engine with the client.</param>
    public LanguageModelChatClient(ILanguageModel model, ITokenizer tokenizer, ChatTemplate? template = null,
        SamplingOptions? defaults = null, int contextLength = 0, bool ownsModel = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.VocabSize != model.Config.VocabSize)
            throw new ArgumentException($"The tokenizer has {tokenizer.VocabSize} tokens; the model has {model.Config.VocabSize}.");
        if (contextLength < 0) throw new ArgumentOutOfRangeException($"The context length is 0 (the model's trained context) or more, not {contextLength}.", innerException: null);
        (defaults ?? SamplingOptions.Greedy).Validate();
        Model = model;
        Tokenizer = tokenizer;
        Template = template ?? ChatTemplate.ChatMl;
        Defaults = defaults ?? SamplingOptions.Greedy;
        ContextLength = contextLength;
        _ownsModel = ownsModel;
        _metadata = new ChatClientMetadata("SpecializedInfer", providerUri: null, defaultModelId: model.Name);
    }

    /// <summary>
    /// A client for <paramref name="model"/> with the tokenizer and chat template of the GGUF file it was loaded from
    /// (<see cref="Tokenizers.FromGguf(GgufFile)"/>, <see cref="ChatTemplate.FromGguf"/>).
    /// </summary>
    public static LanguageModelChatClient FromGguf(ILanguageModel model, string modelPath, SamplingOptions? defaults = null,
        int contextLength = 0, bool ownsModel = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var file = GgufFile.Open(modelPath);
        return new LanguageModelChatClient(model, Tokenizers.FromGguf(file), ChatTemplate.FromGguf(file), defaults, contextLength, ownsModel);
    }

    public ILanguageModel Model { get; }
    public ITokenizer Tokenizer { get; }
    public ChatTemplate Template { get; }
    public SamplingOptions Defaults { get; }
    public int ContextLength { get; }

    /// <summary>The prompt tokens a request evaluates: the messages laid out by <see cref="Template"/>, tokenized.</summary>
    public int[] PromptTokens(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = new List<ChatTurn>();
        if (options?.Instructions is { Length: > 0 } instructions) turns.Add(new ChatTurn("system", instructions));
        turns.AddRange(messages.Select(m => new ChatTurn(m.Role.Value, m.Text)));
        return Tokenizer.Encode(Template.Apply(turns, addAssistantPrompt: true), addSpecial: true, parseSpecial: true);
    }

    /// <summary>The sampling a request runs with: <paramref name="options"/> over <see cref="Defaults"/>.</summary>
    public SamplingOptions SamplingFor(ChatOptions? options)
    {
        var sampling = Defaults with
        {
            Temperature = options?.Temperature ?? Defaults.Temperature,
            TopK = options?.TopK ?? Defaults.TopK,
            TopP = options?.TopP ?? Defaults.TopP,
            Seed = options?.Seed is { } seed ? unchecked((ulong)seed) : Defaults.Seed,
        };
        sampling.Validate();
        return sampling;
    }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var prompt = PromptTokens(messages, options);
        var sampling = SamplingFor(options);
        if (options?.MaxOutputTokens is < 0)
            throw new ArgumentOutOfRangeException($"MaxOutputTokens must be at least 0, not {options.MaxOutputTokens}.", innerException: null);
        var responseId = Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;
        var modelId = options?.ModelId ?? Model.Name;
        ChatResponseUpdate Update(string text) => new(ChatRole.Assistant, text)
        {
            ResponseId = responseId, MessageId = responseId, ModelId = modelId, CreatedAt = created,
        };

        // The generation is CPU-bound: leave the caller's context before the prompt is evaluated.
        await Task.Yield();
        using var session = Model.CreateSession(ContextLength);
        var budget = options?.MaxOutputTokens ?? Math.Max(0, session.ContextLength - prompt.Length);
        var generator = new TextGenerator(session, new Sampler(sampling, Model.Config.VocabSize), Tokenizer.EosId);
        var decoder = new Utf8StreamDecoder();
        var stops = new StopSequenceFilter(options?.StopSequences?.ToArray() ?? []);
        var produced = 0;
        var finish = ChatFinishReason.Length;
        foreach (var token in generator.Generate(prompt, budget))
        {
            produced++;
            if (Tokenizer.IsEndOfGeneration(token))
            {
                finish = ChatFinishReason.Stop;
                break;
            }
            var text = stops.Push(decoder.Push(Tokenizer.TokenBytes(token)));
            if (text.Length > 0) yield return Update(text);
            if (stops.Stopped)
            {
                finish = ChatFinishReason.Stop;
                break;
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
        if (generator.StopReason == GenerationStop.EndOfSequence)
        {
            produced++; // the EOS the generator consumed without yielding
            finish = ChatFinishReason.Stop;
        }
        var tail = stops.Push(decoder.Flush());
        tail += stops.Flush();
        if (stops.Stopped) finish = ChatFinishReason.Stop;

        var last = Update(tail);
        last.FinishReason = finish;
        last.Contents.Add(new UsageContent(new UsageDetails
        {
            InputTokenCount = prompt.Length, OutputTokenCount = produced, TotalTokenCount = prompt.Length + produced,
        }));
        yield return last;
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(Model)) return Model;
        if (serviceType.IsInstanceOfType(Tokenizer)) return Tokenizer;
        if (serviceType.IsInstanceOfType(Template)) return Template;
        return null;
    }

    public void Dispose()
    {
        if (_ownsModel) Model.Dispose();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Model.Name} chat ({Template.Name})");
}
