namespace SpecializedInfer.Cli;

/// <summary>What a user is shown of a failure: the exception's sentence, without what is only for programmers.</summary>
internal static class UserMessage
{
    /// <summary>
    /// The message of <paramref name="e"/>. An <see cref="ArgumentException"/> built with a parameter name appends
    /// " (Parameter 'x')" (and, out of range, "Actual value was ..." on the next line) to its message; both are cut,
    /// so a library caller's argument error still reads as a sentence here.
    /// </summary>
    public static string Of(Exception e)
    {
        var message = e.Message;
        if (e is ArgumentException { ParamName: { Length: > 0 } name })
        {
            var suffix = message.IndexOf($" (Parameter '{name}')", StringComparison.Ordinal);
            if (suffix >= 0) message = message[..suffix];
        }
        return message;
    }
}
