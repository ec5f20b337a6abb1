using System;
using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Json;

namespace SpecializedInfer.Generators.Parsing;

/// <summary>
/// Stage 1b: each <c>*.plan.json</c> / <c>*.model.json</c> / <c>*.probe.json</c> AdditionalFile becomes a <see cref="JsonFile"/>.
/// Manifests are checked here, once per file; plans can only be checked against their manifest, later
/// (<see cref="PlanResolution"/>). The analyzer builds the same records from the same AdditionalFiles.
/// </summary>
public static class JsonFileReader
{
    public static bool IsJsonInput(AdditionalText file) =>
        file.Path.EndsWith(PlanReader.Extension, StringComparison.OrdinalIgnoreCase)
        || file.Path.EndsWith(ManifestReader.Extension, StringComparison.OrdinalIgnoreCase)
        || file.Path.EndsWith(ProbeReader.Extension, StringComparison.OrdinalIgnoreCase);

    public static JsonFile Read(AdditionalText file, CancellationToken cancellationToken)
    {
        var isManifest = file.Path.EndsWith(ManifestReader.Extension, StringComparison.OrdinalIgnoreCase);
        var source = file.GetText(cancellationToken);
        var normalized = PathMatching.Normalize(file.Path);
        // The size limit every reader applies (SI0037); a text past it in characters is never copied out or parsed.
        if (source is not null && InputLimits.CheckCharacterCount(source.Length) is { } tooLarge)
            return new JsonFile(file.Path, normalized, isManifest, Readable: false, null, null, EquatableArray<PropertyRange>.Empty) { ReadProblem = tooLarge };
        var text = source?.ToString();
        if (text is null)
            return new JsonFile(file.Path, normalized, isManifest, Readable: false, null, null, EquatableArray<PropertyRange>.Empty);
        if (!isManifest)
            return new JsonFile(file.Path, normalized, false, true, text, null, EquatableArray<PropertyRange>.Empty);

        var result = ManifestReader.Read(text, file.Path);
        var properties = new List<PropertyRange>();
        var root = JsonParser.Parse(text, out _) as JsonObject;
        if (result.Manifest is not null && root is not null)
            foreach (var p in root.Properties)
                properties.Add(new PropertyRange(p.Name, p.Value.Range));
        // Kept for an invalid manifest too: a plan over it still gets its architecture's placeholder surface.
        var architecture = root?.Find("architecture")?.Value is JsonString a ? a.Value : null;
        return new JsonFile(file.Path, normalized, true, true, null, result, properties.ToEquatableArray()) { Architecture = architecture };
    }
}
