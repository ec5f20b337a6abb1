namespace SpecializedInfer.Fixes;

/// <summary>
/// Keys of the diagnostic properties that carry a fix for a JSON file: replace the text at
/// [<see cref="Start"/>, +<see cref="Length"/>) with <see cref="Replacement"/>. The analyzer, which has the parsed
/// file, works out the exact edit; the code fix only applies it, after checking the span still holds
/// <see cref="Expected"/> so a stale diagnostic never edits the wrong text. Linked into both assemblies (the code fix
/// assembly must not reference the analyzer one, see SpecializedInfer.CodeFixes.csproj).
/// </summary>
internal static class FixProperties
{
    public const string Kind = "SpecializedInfer.FixKind";
    public const string Start = "SpecializedInfer.FixStart";
    public const string Length = "SpecializedInfer.FixLength";
    public const string Replacement = "SpecializedInfer.FixReplacement";
    public const string Expected = "SpecializedInfer.FixExpected";
    public const string Title = "SpecializedInfer.FixTitle";

    /// <summary>Drops one element of an array (a duplicate index, an index out of range), with its separating comma.</summary>
    public const string RemoveItem = "RemoveItem";

    /// <summary>Renames a misspelt property to the known one it is nearest to.</summary>
    public const string Rename = "Rename";

    public const string UnknownPropertyId = "SI0002";
    public const string LayerOutOfRangeId = "SI0009";
    public const string DuplicateIndexId = "SI0010";
}
