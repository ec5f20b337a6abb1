using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Evaluation;

/// <summary>Plans written to a temporary folder beside a copy of the repository's stories260K manifest.</summary>
public sealed class EvaluationFiles : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("si-eval-").FullName;

    public static string Stories => ModelLocator.Find("stories260K.gguf");

    public static readonly string[] Prompts =
    [
        "Once upon a time, there was a little frog named Pip.",
        "\"Look at the big red kite!\" said Ben.",
        "Lily had 3 yellow balloons, but one of them flew away.",
    ];

    public const string Text =
        "Tom had a red ball. He liked to kick it in the park.\nOne day the ball went into the pond. \"Oh no!\" said Tom.";

    /// <summary>A plan file with the given JSON properties after the manifest reference.</summary>
    public string Plan(string json = "")
    {
        System.IO.File.Copy(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json"),
            Path.Combine(Directory, "stories260K.model.json"), overwrite: true);
        var path = Path.Combine(Directory, $"p{Guid.NewGuid():N}.plan.json");
        System.IO.File.WriteAllText(path, "{ \"manifest\": \"stories260K.model.json\"" + (json.Length > 0 ? ", " + json : "") + " }");
        return path;
    }

    public string File(string name, string contents)
    {
        var path = Path.Combine(Directory, name);
        System.IO.File.WriteAllText(path, contents);
        return path;
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
