namespace SpecializedInfer.Synthesis;

/// <summary>
/// A SentencePiece-style vocabulary of any size: the three specials, 256 byte-fallback tokens, single
/// characters, then seeded pseudo-words. Enough for llama.cpp to load the model and for the tokenizer to run.
/// </summary>
public static class SyntheticVocabulary
{
    private const string Singles = "▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-:;()";
    public static readonly int MinimumSize = 3 + 256 + Singles.Length;

    public static (string[] Tokens, float[] Scores, int[] Types) Create(int size, ulong seed)
    {
        if (size < MinimumSize) throw new ArgumentOutOfRangeException($"A vocabulary needs at least {MinimumSize} tokens, not {size}.", innerException: null);
        var tokens = new List<string>(size) { "<unk>", "<s>", "</s>" };
        var types = new List<int>(size) { 2, 3, 3 };
        for (var b = 0; b < 256; b++) { tokens.Add($"<0x{b:X2}>"); types.Add(6); }
        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        foreach (var ch in Singles) { tokens.Add(ch.ToString()); seen.Add(ch.ToString()); types.Add(1); }
        var rng = new SplitMix64(seed ^ 0x766F636162UL);
        while (tokens.Count < size)
        {
            var length = 2 + (int)(rng.Next() % 7);
            var chars = new char[length];
            for (var i = 0; i < length; i++) chars[i] = (char)('a' + rng.Next() % 26);
            var word = (rng.Next() % 2 == 0 ? "▁" : "") + new string(chars);
            if (seen.Add(word)) { tokens.Add(word); types.Add(1); }
        }
        var scores = new float[size];
        for (var i = 259; i < size; i++) scores[i] = -(i - 259); // earlier pieces merge first
        return (tokens.ToArray(), scores, types.ToArray());
    }
}
