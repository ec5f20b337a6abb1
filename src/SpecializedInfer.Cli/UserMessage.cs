namespace SpecializedInfer.Cli;

/// <summary>What a user is shown of a failure: the exception's sentence, without what is only for programmers.</summary>
internal static class UserMessage
{
    /// <summary>
    /// The message of <paramref name="e"/>. The project's own argument errors are sentences already (they are built
    /// from the message alone, with the value given inside it, so API callers read the same sentence si prints).
    /// What .NET itself throws is not: an <see cref="ArgumentException"/> with a parameter name appends
    /// " (Parameter 'x')" (and, out of range, "Actual value was ..." on the next line); both are cut here. (An empty
    /// path, .NET's commonest case, no longer gets this far: <see cref="CliOptions"/> rejects it while parsing.)
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
