using SpecializedInfer.Hub;

namespace SpecializedInfer;

/// <summary>
/// Finds the model files tests, examples and benchmarks use: weights are never committed, so they are looked up by
/// name through <see cref="ModelResolver"/> (<c>SPECIALIZEDINFER_MODELS</c>, then <c>../shared/models</c> beside the
/// repository root, then the download cache).
/// </summary>
public static class ModelLocator
{
    public const string EnvironmentVariable = ModelResolver.ModelsVariable;

    /// <summary>The first model folder that exists; throws <see cref="DirectoryNotFoundException"/> naming every place it looked.</summary>
    public static string ModelsDirectory
    {
        get
        {
            var folders = ModelResolver.EnvironmentFolders();
            return folders.FirstOrDefault(f => Directory.Exists(f.Path))?.Path
                ?? throw new DirectoryNotFoundException(
                    $"No model folder found. Set {EnvironmentVariable}, or place models at ../shared/models beside the repository. Tried: {string.Join(", ", folders.Select(f => f.Path))}");
        }
    }

    /// <summary>
    /// Full path of a model by name, path or <c>hf:OWNER/REPO/FILE</c> (pulled before: this lookup never downloads,
    /// and links no HTTP code into an app); a missing one is a <see cref="ModelNotFoundException"/> (a
    /// <see cref="FileNotFoundException"/>) naming every place looked at.
    /// </summary>
    public static string Find(string fileName) => ModelResolver.Local().Resolve(fileName);
}
