namespace SpecializedInfer;

/// <summary>
/// Finds the shared model folder: weights are never committed, so tests, examples and benchmarks look them up
/// through <c>SPECIALIZEDINFER_MODELS</c>, else <c>../shared/models</c> beside the repository root.
/// </summary>
public static class ModelLocator
{
    public const string EnvironmentVariable = "SPECIALIZEDINFER_MODELS";

    /// <summary>The model folder; throws <see cref="DirectoryNotFoundException"/> naming every place it looked.</summary>
    public static string ModelsDirectory
    {
        get
        {
            var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(fromEnv))
            {
                if (Directory.Exists(fromEnv)) return Path.GetFullPath(fromEnv);
                throw new DirectoryNotFoundException($"{EnvironmentVariable}={fromEnv} does not exist.");
            }
            var tried = new List<string>();
            foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            {
                for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                {
                    if (!File.Exists(Path.Combine(dir.FullName, "SpecializedInfer.sln"))) continue;
                    var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "models"));
                    if (Directory.Exists(candidate)) return candidate;
                    tried.Add(candidate);
                    break;
                }
            }
            throw new DirectoryNotFoundException(
                $"No model folder found. Set {EnvironmentVariable}, or place models at ../shared/models beside the repository. Tried: {string.Join(", ", tried)}");
        }
    }

    /// <summary>Full path of a file in the model folder, checked to exist.</summary>
    public static string Find(string fileName)
    {
        var path = Path.Combine(ModelsDirectory, fileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"Model file '{fileName}' not found in {ModelsDirectory}.", path);
        return path;
    }
}
