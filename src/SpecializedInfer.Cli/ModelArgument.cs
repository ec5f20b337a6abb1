using SpecializedInfer.Hub;

namespace SpecializedInfer.Cli;

/// <summary>
/// The model a command was given (<c>--model</c>, <c>si inspect MODEL</c>): a path, a bare name found in the model
/// folders or the cache, or <c>hf:OWNER/REPO/FILE</c>, downloaded with a progress bar if the cache lacks it. The order
/// is <see cref="ModelResolver"/>'s, the one the examples and tests use too.
/// </summary>
internal static class ModelArgument
{
    public static string Resolve(string model, CliContext context)
    {
        var resolver = ModelResolver.FromEnvironment();
        return DownloadProgressDisplay.Run(context, progress => Checked(() => resolver.Resolve(model, progress)));
    }

    /// <summary>A malformed <c>hf:</c> reference is a usage error (exit 2), as any bad value on the command line.</summary>
    public static T Checked<T>(Func<T> work)
    {
        try
        {
            return work();
        }
        catch (HubReferenceException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
