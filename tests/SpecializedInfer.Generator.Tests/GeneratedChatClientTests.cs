using Microsoft.Extensions.AI;
using SpecializedInfer.Chat;
using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Engines;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>Generated engines behind <see cref="IChatClient"/> answer as the reference engine does.</summary>
public sealed class GeneratedChatClientTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You tell short stories."),
        new(ChatRole.User, "Tell me about Lily and her ball."),
    ];

    [Fact]
    public async Task The_full_and_the_lossless_generated_engines_answer_greedily_as_the_reference_engine()
    {
        var options = new ChatOptions { MaxOutputTokens = 48 };
        using var reference = ReferenceEngine.Load(TestModels.Stories260K);
        using var referenceClient = LanguageModelChatClient.FromGguf(reference, TestModels.Stories260K);
        var expected = await referenceClient.GetResponseAsync(Conversation, options);
        Assert.True(expected.Text.Length > 20, expected.Text);

        // The lossless plan decodes greedy requests self-speculatively: drafted and verified, the same tokens.
        foreach (ILanguageModel engine in new ILanguageModel[] { S260Full.Load(TestModels.Stories260K), S260Lossless.Load(TestModels.Stories260K) })
        {
            using (engine)
            {
                using var client = LanguageModelChatClient.FromGguf(engine, TestModels.Stories260K);
                var response = await client.GetResponseAsync(Conversation, options);
                Assert.Equal(expected.Text, response.Text);
                Assert.Equal(expected.Usage!.OutputTokenCount, response.Usage!.OutputTokenCount);
                Assert.Equal(expected.FinishReason, response.FinishReason);
            }
        }
    }
}
