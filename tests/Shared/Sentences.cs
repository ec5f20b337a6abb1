namespace SpecializedInfer.Tests.Encoders;

/// <summary>Deterministic English-like sentences of varied length for the encoder oracles.</summary>
public static class Sentences
{
    private static readonly string[] Words =
    [
        "the", "a", "river", "quietly", "carried", "old", "boats", "toward", "harbor", "while", "children", "laughed",
        "on", "bridge", "engineers", "measured", "latency", "of", "every", "request", "and", "wrote", "reports",
        "about", "cache", "misses", "in", "database", "cluster", "she", "baked", "bread", "with", "rosemary", "salt",
        "before", "sunrise", "quantum", "computers", "may", "someday", "factor", "large", "numbers", "efficiently",
        "Paris", "is", "capital", "France", "museum", "opened", "new", "exhibit", "impressionist", "paintings",
        "stock", "prices", "fell", "sharply", "after", "announcement", "rain", "expected", "tomorrow", "afternoon",
        "please", "restart", "your", "router", "if", "connection", "drops", "again", "naïve", "café", "résumé",
        "don't", "isn't", "3.14", "42", "$100", "e-mail", "state-of-the-art", "(see", "below)", "U.S.", "COVID-19",
    ];

    /// <summary><paramref name="count"/> sentences of 1 to <paramref name="maxWords"/> words, seeded.</summary>
    public static string[] Varied(int count, int maxWords = 28, int seed = 12)
    {
        var random = new Random(seed);
        var result = new string[count];
        for (var i = 0; i < count; i++)
        {
            // Mostly short, some long: lengths spread over the whole range as real queries and passages are.
            var n = 1 + (int)(maxWords * Math.Pow(random.NextDouble(), 1.5));
            var words = Enumerable.Range(0, n).Select(_ => Words[random.Next(Words.Length)]);
            result[i] = string.Join(' ', words) + (random.Next(3) == 0 ? "." : "");
        }
        return result;
    }
}
