using System.Text;
using System.Text.RegularExpressions;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Synthesis;

/// <summary>
/// Byte-level BPE trained the way GPT-2's was: words split by a GPT-2 style regex, spelt in the byte alphabet, and the
/// most frequent adjacent pair merged, again and again (ties to the ordinally smallest pair, so training is
/// deterministic), until <c>mergeCount</c> merges or no pair occurs twice. Tokens: the 256 byte characters, then one
/// per merge that makes a new one.
/// </summary>
public static class ByteLevelBpeTraining
{
    public static (List<string> Tokens, List<string> Merges) Train(string text, int mergeCount)
    {
        var wordCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match m in Regex.Matches(text, @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"))
        {
            var spelt = ByteLevelAlphabet.Spell(Encoding.UTF8.GetBytes(m.Value));
            wordCounts[spelt] = wordCounts.GetValueOrDefault(spelt) + 1;
        }
        var words = wordCounts.Select(kv => (Symbols: kv.Key.Select(c => c.ToString()).ToList(), Count: kv.Value)).ToList();

        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.Char((byte)b).ToString()).ToList();
        var known = new HashSet<string>(tokens, StringComparer.Ordinal);
        var merges = new List<string>();
        while (merges.Count < mergeCount)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in words)
                for (var i = 0; i + 1 < symbols.Count; i++)
                    pairs[(symbols[i], symbols[i + 1])] = pairs.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1 + " " + p.Key.Item2, StringComparer.Ordinal).First().Key;
            if (pairs[best] < 2) break;
            merges.Add(best.Item1 + " " + best.Item2);
            var merged = best.Item1 + best.Item2;
            if (known.Add(merged)) tokens.Add(merged);
            foreach (var (symbols, _) in words)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] != best.Item1 || symbols[i + 1] != best.Item2) continue;
                    symbols[i] = merged;
                    symbols.RemoveAt(i + 1);
                }
            }
        }
        return (tokens, merges);
    }
}
