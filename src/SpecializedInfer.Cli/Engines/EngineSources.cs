using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Cli.Engines;

/// <summary>
/// What one generated engine is compiled from: the class the <c>[SpecializedEngine]</c> attribute marks, the plan
/// path it names, and every file the generator reads (plan, manifest, probe sidecars) with the text that was checked.
/// The same values identify the engine in the cache.
/// </summary>
internal sealed record EngineSources(string ClassName, string PlanPath, IReadOnlyList<SidecarFile> Files)
{
    /// <summary>A plan file as <see cref="PlanLoader"/> read it.</summary>
    public static EngineSources ForPlan(LoadedPlan plan) => new(ClassNameOf(Path.GetFileName(plan.PlanPath)), plan.PlanPath, plan.Sources);

    /// <summary>
    /// The full model a plan's manifest describes: a plan that names the manifest and changes nothing, put beside the
    /// manifest (the generator resolves the reference relative to the plan). It exists only in memory.
    /// </summary>
    public static EngineSources FullModel(LoadedPlan plan)
    {
        var manifest = plan.Sources.Single(s => s.Path == plan.ManifestPath);
        return FullModel(manifest);
    }

    /// <summary>
    /// The full model of a GGUF file run without a plan: the manifest <c>si manifest</c> would write for it (its weight
    /// type included, so a Q8_0/Q4_0 file's engine keeps its matrices quantized) and a plan naming only that manifest,
    /// both in memory beside the model file.
    /// </summary>
    public static EngineSources FullModel(string modelPath, Gguf.GgufFile file, LlamaConfig config)
    {
        var name = Path.GetFileNameWithoutExtension(modelPath);
        var manifestPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, name + ManifestReader.Extension);
        return FullModel(new SidecarFile(manifestPath, ManifestWriter.ToJson(ManifestCheck.FromFile(file, config, name))));
    }

    /// <summary>The full model a manifest describes (text in memory, at its path): a plan naming only it, beside it.</summary>
    public static EngineSources FullModel(SidecarFile manifest)
    {
        var stem = ManifestReader.DefaultName(manifest.Path);
        var planPath = Path.Combine(Path.GetDirectoryName(manifest.Path)!, stem + ".full-model.plan.json");
        var planText = "{ \"manifest\": " + JsonSerializer.Serialize(Path.GetFileName(manifest.Path)) + " }\n";
        return new(ClassNameOf(stem) + "FullModel", planPath, [new SidecarFile(planPath, planText), manifest]);
    }

    /// <summary>
    /// A C# class name from a file name: its words (split at anything not a letter or digit, ".plan.json" dropped)
    /// capitalized and joined, "stories260K.fast.plan.json" → "Stories260KFast"; a leading digit gets "Plan" before it.
    /// </summary>
    public static string ClassNameOf(string fileName)
    {
        if (fileName.EndsWith(".plan.json", StringComparison.OrdinalIgnoreCase)) fileName = fileName[..^".plan.json".Length];
        var name = new StringBuilder();
        foreach (var word in Regex.Split(fileName, "[^A-Za-z0-9]+"))
            if (word.Length > 0) name.Append(char.ToUpperInvariant(word[0])).Append(word, 1, word.Length - 1);
        if (name.Length == 0 || char.IsAsciiDigit(name[0])) name.Insert(0, "Plan");
        return name.ToString();
    }
}
