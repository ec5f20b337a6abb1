using SpecializedInfer.Engine;

namespace SpecializedInfer.Tests.Decisions;

/// <summary>
/// The recompute bookkeeping both executors share, on a small causal model written here: step s at position p writes a
/// cache entry from its state and reads the entries of step s at positions 0..p. The oracle is the full model's
/// cache (every position through every step, in order); parking, catching up and rewinding must reproduce it bit for
/// bit, never read a missing entry, and count exactly the missed steps.
/// </summary>
public sealed class ParkedPositionsTests
{
    private const int Steps = 5, Dim = 2, Context = 40;

    /// <summary>The toy model and its cache: [step][position], NaN where nothing is written yet.</summary>
    private sealed class Toy
    {
        public readonly float[][] Cache = Enumerable.Range(0, Steps).Select(_ => Enumerable.Repeat(float.NaN, Context).ToArray()).ToArray();

        public static float[] Embed(int token) => [token * 0.37f - 1, 1f / (token + 2)];

        public void Run(int step, int position, Span<float> state)
        {
            Cache[step][position] = state[0] * (step + 1) - state[1];
            var sum = 0f;
            for (var q = 0; q <= position; q++)
            {
                Assert.False(float.IsNaN(Cache[step][q]), $"step {step} at position {position} read position {q} before it was written");
                sum += Cache[step][q];
            }
            state[0] = state[0] * 0.5f + sum * 0.125f;
            state[1] = state[1] * 0.75f - sum * 0.0625f + step;
        }
    }

    private static float[][] FullModelCache(IReadOnlyList<int> tokens)
    {
        var toy = new Toy();
        for (var p = 0; p < tokens.Count; p++)
        {
            var state = Toy.Embed(tokens[p]);
            for (var s = 0; s < Steps; s++) toy.Run(s, p, state);
        }
        return toy.Cache;
    }

    /// <summary>A session of the toy model: each token runs steps 0..stop, catching up before each, and parks if it stopped early.</summary>
    private sealed class Session
    {
        public readonly Toy Toy = new();
        public readonly ParkedPositions Parked = new(Context, Dim, Steps);
        public int Position;
        public long Recomputed;

        public void Feed(int token, int stop)
        {
            var state = Toy.Embed(token);
            for (var s = 0; s <= stop; s++)
            {
                Recomputed += Parked.CatchUp(s, Toy.Run);
                Toy.Run(s, Position, state);
            }
            if (stop + 1 < Steps) Parked.Park(Position, stop + 1, state);
            Position++;
        }
    }

    private static void AssertCache(float[][] expected, float[][] actual, int positions)
    {
        for (var s = 0; s < Steps; s++)
            for (var p = 0; p < positions; p++)
                Assert.True(expected[s][p].Equals(actual[s][p]), $"step {s} position {p}: expected {expected[s][p]}, got {actual[s][p]}");
    }

    [Fact]
    public void Parked_positions_end_with_the_full_models_cache()
    {
        var random = new Random(7);
        var tokens = Enumerable.Range(0, 30).Select(_ => random.Next(100)).ToList();
        var stops = tokens.Select((_, i) => i < 4 ? Steps - 1 : random.Next(Steps)).ToList(); // a full-depth "prompt", then mixed depths
        stops[^1] = Steps - 1; // the last token runs every step, so every parked position completes
        var session = new Session();
        for (var i = 0; i < tokens.Count; i++) session.Feed(tokens[i], stops[i]);

        AssertCache(FullModelCache(tokens), session.Toy.Cache, tokens.Count);
        Assert.Equal(0, session.Parked.Count);
        Assert.Equal(stops.Take(tokens.Count - 1).Sum(stop => Steps - 1 - stop), session.Recomputed); // each missed step once
    }

    [Fact]
    public void Catching_up_runs_only_the_steps_a_token_needs()
    {
        var session = new Session();
        session.Feed(1, 0); // parks needing 1..4
        session.Feed(2, 2); // catches position 0 up on 1 and 2; parks needing 3, 4
        Assert.Equal(2, session.Recomputed);
        Assert.Equal(3, session.Parked.NextStep(0));
        Assert.Equal(3, session.Parked.NextStep(1));
        Assert.Equal(2, session.Parked.Count);
        session.Feed(3, 3); // both run step 3
        Assert.Equal(4, session.Recomputed);
        Assert.Equal(3, session.Parked.Count);
        Assert.True(float.IsNaN(session.Toy.Cache[4][0]), "step 4 is not needed yet");
    }

    [Fact]
    public void Rewinding_drops_the_positions_past_the_new_end()
    {
        var session = new Session();
        int[] first = [5, 6, 7, 8, 9, 10];
        foreach (var t in first) session.Feed(t, t % 2 == 0 ? 1 : 0);
        session.Parked.Rewind(3);
        session.Position = 3;
        Assert.Equal(3, session.Parked.Count);
        int[] tail = [11, 12];
        session.Feed(tail[0], 2);
        session.Feed(tail[1], Steps - 1);

        var tokens = first.Take(3).Concat(tail).ToList();
        AssertCache(FullModelCache(tokens), session.Toy.Cache, tokens.Count);
        Assert.Equal(0, session.Parked.Count);
    }

    [Fact]
    public void Positions_park_in_order_and_only_part_way()
    {
        var parked = new ParkedPositions(Context, Dim, Steps);
        parked.Park(3, 1, [0f, 0f]);
        Assert.Throws<InvalidOperationException>(() => parked.Park(3, 2, [0f, 0f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => parked.Park(4, Steps, [0f, 0f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => parked.Park(4, 0, [0f, 0f]));
    }

    [Fact]
    public void Catching_up_allocates_nothing()
    {
        var parked = new ParkedPositions(Context, Dim, Steps);
        var runs = 0;
        ParkedPositions.StepRunner run = (_, _, _) => runs++;
        parked.Park(0, 1, [1f, 2f]);
        parked.Park(1, 2, [1f, 2f]);
        var before = GC.GetAllocatedBytesForCurrentThread();
        parked.CatchUp(2, run);
        parked.CatchUp(4, run);
        parked.Rewind(0);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(2 + 1 + 2 + 2, runs);
    }
}
