namespace SpecializedInfer.Synthesis;

/// <summary>A tiny seeded generator whose sequence is fixed by its definition, so synthetic models are reproducible anywhere.</summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [-1, 1).</summary>
    public float NextSigned() => (Next() >> 40) / 8388608f - 1f;

    /// <summary>A stable 64-bit hash (FNV-1a) so each tensor's stream depends on its name, not on write order.</summary>
    public static ulong Hash(string text)
    {
        var h = 0xcbf29ce484222325UL;
        foreach (var ch in text) { h ^= ch; h *= 0x100000001b3UL; }
        return h;
    }
}
