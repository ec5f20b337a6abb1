using System.Diagnostics;
using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Engines;
using SpecializedInfer.Generator.Tests.Support;
using Xunit.Abstractions;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// A quick Stopwatch look at decode speed (BenchmarkDotNet gives the real figures): 64 generated tokens on
/// stories260K, positions 0-63, as the decode benchmark runs them. Reports the ratio; asserts only that the
/// generated engine is not slower than the reference, which a noisy machine cannot break.
/// </summary>
[Collection(nameof(SpeedTests))]
public sealed class SpeedTests(ITestOutputHelper output)
{
    [Fact]
    public void Generated_full_engine_decodes_faster_than_the_reference()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var generated = S260Full.Load(TestModels.Stories260K);
        using var reference = ReferenceEngine.Load(TestModels.Stories260K);
        var tokens = new int[64];
        using (var s = reference.CreateSession(64))
        {
            tokens[0] = 1;
            for (var i = 1; i < tokens.Length; i++) tokens[i] = Comparison.ArgMax(s.Forward(tokens[i - 1]));
        }
        using var g = generated.CreateSession(64);
        using var r = reference.CreateSession(64);
        // Rounds alternate between the engines, so both see the same machine (other processes, frequency); the
        // best round of each counts, after a warm-up.
        var clock = Stopwatch.StartNew();
        double bestGenerated = double.MaxValue, bestReference = double.MaxValue;
        while (clock.Elapsed.TotalSeconds < 4)
        {
            var counted = clock.Elapsed.TotalSeconds > 1;
            var t = Round(g, tokens);
            if (counted) bestGenerated = Math.Min(bestGenerated, t);
            t = Round(r, tokens);
            if (counted) bestReference = Math.Min(bestReference, t);
        }
        output.WriteLine($"stories260K, 64 tokens: generated {bestGenerated:F1} µs/token, reference {bestReference:F1} µs/token: {bestReference / bestGenerated:F2}× the reference");
        Assert.True(bestGenerated < bestReference, $"generated {bestGenerated:F1} µs/token is not faster than the reference's {bestReference:F1}");
    }

    private static double Round(IInferenceSession session, int[] tokens)
    {
        session.Rewind(0);
        var start = Stopwatch.GetTimestamp();
        foreach (var t in tokens) session.Forward(t);
        return Stopwatch.GetElapsedTime(start).TotalMicroseconds / tokens.Length;
    }
}

/// <summary>Timing runs alone, after the parallel tests, or it measures the other tests.</summary>
[CollectionDefinition(nameof(SpeedTests), DisableParallelization = true)]
public sealed class SpeedTestsCollection;
