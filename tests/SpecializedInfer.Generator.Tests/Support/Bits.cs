using System.Runtime.InteropServices;

namespace SpecializedInfer.Generator.Tests.Support;

/// <summary>Exact comparisons: verification promises the single-position path's bits, and a prompt the same bits however it is cut, not a tolerance.</summary>
public static class Bits
{
    /// <summary>A deterministic token sequence over the whole vocabulary.</summary>
    public static int[] Tokens(int length, int vocab, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.Next(vocab)).ToArray();
    }

    public static void AssertBitIdentical(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var e = MemoryMarshal.Cast<float, int>(expected);
        var a = MemoryMarshal.Cast<float, int>(actual);
        for (var i = 0; i < e.Length; i++)
            if (e[i] != a[i])
                Assert.Fail($"{what}: element {i} is {actual[i]:R} (bits {a[i]:X8}), expected {expected[i]:R} (bits {e[i]:X8})");
    }
}
