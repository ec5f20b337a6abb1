namespace SpecializedInfer.Chat;

/// <summary>One message of a conversation: a role ("system", "user", "assistant", "tool", ...) and its text.</summary>
public sealed record ChatTurn(string Role, string Content);
