using Microsoft.Extensions.AI;
using SpecializedInfer.Engine;
using SpecializedInfer.Sampling;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Chat;

/// <summary>Microsoft.Extensions.AI's <c>AsIChatClient</c> convention for engines.</summary>
public static class LanguageModelChatExtensions
{
    /// <summary>The engine as an <see cref="IChatClient"/> (see <see cref="LanguageModelChatClient"/>); the engine stays the caller's.</summary>
    public static IChatClient AsIChatClient(this ILanguageModel model, ITokenizer tokenizer, ChatTemplate? template = null,
        SamplingOptions? defaults = null, int contextLength = 0) =>
        new LanguageModelChatClient(model, tokenizer, template, defaults, contextLength);
}
