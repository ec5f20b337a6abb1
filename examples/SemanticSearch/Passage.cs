namespace SemanticSearch;

/// <summary>One line of text from a file in the searched folder: what is indexed and what a hit shows.</summary>
internal sealed record Passage(string File, int Line, string Text)
{
    /// <summary>Every non-empty line of every <c>*.txt</c> file under <paramref name="folder"/>, files in name order.</summary>
    public static List<Passage> ReadFolder(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The folder {folder} does not exist.");
        var passages = new List<Passage>();
        foreach (var file in Directory.EnumerateFiles(folder, "*.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var lines = System.IO.File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
                if (lines[i].Trim() is { Length: > 0 } text) passages.Add(new Passage(Path.GetRelativePath(folder, file), i + 1, text));
        }
        if (passages.Count == 0) throw new InvalidDataException($"The folder {folder} has no text to search (*.txt files, one passage per line).");
        return passages;
    }
}
