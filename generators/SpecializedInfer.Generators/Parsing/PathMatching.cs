using System;
using System.Collections.Generic;
using System.Linq;
using SpecializedInfer.Generators.Model;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generators.Parsing;

/// <summary>
/// Resolves the paths a user writes (the attribute's plan path, the plan's manifest reference) against the
/// project's AdditionalFiles, whose paths are absolute. Separators are normalized to '/', '.' and '..' segments
/// are resolved, and matching is ordinal first, then case-insensitive.
/// </summary>
public static class PathMatching
{
    public static string Normalize(string path)
    {
        var p = path.Replace('\\', '/');
        var rooted = p.StartsWith("/", StringComparison.Ordinal);
        var segments = new List<string>();
        foreach (var s in p.Split('/'))
        {
            if (s.Length == 0 || s == ".") continue;
            if (s == ".." && segments.Count > 0 && segments[segments.Count - 1] != "..") segments.RemoveAt(segments.Count - 1);
            else segments.Add(s);
        }
        return (rooted ? "/" : "") + string.Join("/", segments);
    }

    public static bool IsRooted(string normalized) =>
        normalized.StartsWith("/", StringComparison.Ordinal) || (normalized.Length >= 2 && normalized[1] == ':');

    public static string Directory(string normalized)
    {
        var i = normalized.LastIndexOf('/');
        return i < 0 ? "" : normalized.Substring(0, i);
    }

    /// <summary>
    /// The file whose full path ends with <paramref name="relativePath"/> (at a separator). Among several, the
    /// shortest path wins (the one nearest the project root), then the ordinal order; deterministic either way.
    /// </summary>
    public static JsonFile? FindBySuffix(IEnumerable<JsonFile> files, string relativePath)
    {
        var rel = Normalize(relativePath);
        while (rel.StartsWith("../", StringComparison.Ordinal)) rel = rel.Substring(3);
        if (rel.Length == 0 || rel == "..") return null;
        var rooted = IsRooted(rel);
        foreach (var comparison in new[] { StringComparison.Ordinal, StringComparison.OrdinalIgnoreCase })
        {
            var match = files
                .Where(f => rooted
                    ? string.Equals(f.NormalizedPath, rel, comparison)
                    : string.Equals(f.NormalizedPath, rel, comparison) || f.NormalizedPath.EndsWith("/" + rel, comparison))
                .OrderBy(f => f.NormalizedPath.Length)
                .ThenBy(f => f.NormalizedPath, StringComparer.Ordinal)
                .FirstOrDefault();
            if (match is not null) return match;
        }
        return null;
    }

    /// <summary>The file at exactly <paramref name="path"/> (already normalized), ordinal first, then ignoring case.</summary>
    public static JsonFile? FindExact(IEnumerable<JsonFile> files, string path) =>
        files.FirstOrDefault(f => string.Equals(f.NormalizedPath, path, StringComparison.Ordinal))
        ?? files.OrderBy(f => f.NormalizedPath, StringComparer.Ordinal)
            .FirstOrDefault(f => string.Equals(f.NormalizedPath, path, StringComparison.OrdinalIgnoreCase));

    /// <summary>The manifest a plan names: relative to the plan file's directory unless rooted.</summary>
    public static string ResolveRelativeToPlan(string planNormalizedPath, string reference)
    {
        var r = Normalize(reference);
        return IsRooted(r) ? r : Normalize(Directory(planNormalizedPath) + "/" + r);
    }
}
