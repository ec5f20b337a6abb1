using SpecializedInfer.Engine;

namespace SpecializedInfer.Tests.Engine;

/// <summary>Sessions hold their context as it fills and refuse, with a sentence, a context that could never fit.</summary>
public sealed class ContextCapacityTests
{
    private static string Stories => ModelLocator.Find("stories260K.gguf");

    [Theory]
    [InlineData(2048, 256)]
    [InlineData(100, 112)]  // a short context is held whole, rounded up to the granule
    [InlineData(1, 16)]
    [InlineData(16777216, 256)]
    public void A_new_session_holds_at_most_256_positions(int context, int expected) =>
        Assert.Equal(expected, ContextCapacity.Initial(context));

    [Theory]
    [InlineData(256, 257, 2048, 512)]   // doubles
    [InlineData(256, 900, 2048, 912)]   // or takes what a long prompt needs at once
    [InlineData(512, 513, 600, 608)]    // never past the context (rounded to the granule)
    [InlineData(1 << 29, (1 << 29) + 1, 1 << 30, 1 << 30)]
    public void Capacity_grows_by_doubling_up_to_the_context(int current, int needed, int context, int expected)
    {
        var grown = ContextCapacity.Grow(current, needed, context);
        Assert.Equal(expected, grown);
        Assert.Equal(0, grown % ContextCapacity.Granule);
    }

    [Fact]
    public void A_context_that_cannot_fit_is_refused_with_a_sentence()
    {
        var e = Assert.Throws<ContextTooLargeException>(() =>
            ContextCapacity.EnsureFits(16_777_216, 1_316, 32, "the reference engine", availableBytes: 8L << 30));
        Assert.Equal("A context of 16,777,216 positions needs 20.56 GiB for the reference engine's KV cache and position tables " +
                     "(1,316 bytes per position), more than the 8 GiB of memory this process may use; ask for a shorter context " +
                     "(at most 6,527,296 positions).", e.Message);
        ContextCapacity.EnsureFits(6_527_296, 1_316, 32, "the reference engine", availableBytes: 8L << 30);
    }

    [Fact]
    public void A_context_whose_cache_would_pass_the_array_limit_is_refused()
    {
        // 16M positions × a 4,096-wide KV row: 64 Gi floats in one array, whatever the memory.
        var e = Assert.Throws<ContextTooLargeException>(() =>
            ContextCapacity.EnsureFits(16_777_216, 32_768, 4_096, "the engine Big", availableBytes: 1L << 50));
        Assert.Equal("A context of 16,777,216 positions needs arrays of 68,719,476,736 floats (4,096 per position) in the engine Big, " +
                     "more than a .NET array holds (2,147,483,591); ask for a shorter context (at most 524,272 positions).", e.Message);
    }

    [Fact]
    public void The_reference_engine_refuses_a_context_larger_than_memory_when_the_session_is_created()
    {
        // 16,777,216 positions × 1,316 bytes fit in this machine's memory; a synthetic wider cache would not, so
        // check the arithmetic against the available memory the GC reports: any context whose full size exceeds it.
        using var engine = ReferenceEngine.Load(Stories);
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        const long perPosition = 2L * 4 * 32 * 5 + 2L * 4 * 4 + 4; // K and V of 5 steps × 32, rotary pairs, one score
        var tooMany = available / perPosition + 1_000;
        if (tooMany > int.MaxValue) return; // a machine with more memory than any context can use: nothing to refuse
        var e = Assert.Throws<ContextTooLargeException>(() => engine.CreateSession((int)tooMany));
        Assert.Contains($"{perPosition:N0} bytes per position", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_session_for_16_million_positions_costs_what_its_tokens_use()
    {
        using var engine = ReferenceEngine.Load(Stories);
        // This thread's allocations, not the process's heap: tests running in parallel allocate too.
        var before = GC.GetAllocatedBytesForCurrentThread();
        using var session = engine.CreateSession(16_777_216);
        session.Forward([1, 403, 407, 261, 378]);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 4 << 20, $"the session allocated {allocated:N0} bytes for 5 tokens"); // 256 positions × 1.3 KB, plus scratch
    }
}
