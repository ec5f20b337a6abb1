using Microsoft.Extensions.AI;
using SpecializedInfer;
using SpecializedInfer.Chat;
using SpecializedInfer.Engine;

// usage: Chat [MODEL.gguf] [QUESTION]
// Any decoder GGUF this library loads: SentencePiece or byte-level BPE vocabulary, its tokenizer.chat_template applied
// (ChatML when it has none). The default, stories260K, is a story model without a chat template: it answers in story.
var modelPath = ModelLocator.Find(args.Length > 0 ? args[0] : "stories260K.gguf");
var question = args.Length > 1 ? args[1] : "Tell me a story about a cat.";

using var engine = ReferenceEngine.Load(modelPath);
using var model = LanguageModelChatClient.FromGguf(engine, modelPath);

// A plain Microsoft.Extensions.AI pipeline: options every request gets unless it sets its own, then the model.
using IChatClient client = model.AsBuilder()
    .ConfigureOptions(o =>
    {
        o.MaxOutputTokens ??= 64;
        o.Temperature ??= 0.7f;
        o.Seed ??= 42;
    })
    .Build();

List<ChatMessage> history =
[
    new(ChatRole.System, "You are a friendly storyteller."),
    new(ChatRole.User, question),
];

// Streaming: the text arrives token by token (multi-byte characters whole).
Console.Write("assistant: ");
var updates = new List<ChatResponseUpdate>();
await foreach (var update in client.GetStreamingResponseAsync(history))
{
    Console.Write(update.Text);
    updates.Add(update);
}
Console.WriteLine();
var response = updates.ToChatResponse();
history.AddMessages(response);
Console.Error.WriteLine($"[{response.FinishReason}: {response.Usage?.InputTokenCount} prompt tokens, {response.Usage?.OutputTokenCount} generated]");

// A follow-up turn, whole, greedy, cut at the first full stop.
history.Add(new ChatMessage(ChatRole.User, "And then?"));
var next = await client.GetResponseAsync(history, new ChatOptions { Temperature = 0, StopSequences = ["."] });
Console.WriteLine($"assistant: {next.Text}");
Console.Error.WriteLine($"[{next.FinishReason}: {next.Usage?.InputTokenCount} prompt tokens, {next.Usage?.OutputTokenCount} generated]");
