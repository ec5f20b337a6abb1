using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>A forward step of a generated engine allocates nothing, whatever the plan does: every buffer belongs to the session.</summary>
public sealed class AllocationTests
{
    [Theory]
    // S260Full: the shared session contract (GeneratedSessionContractTests).
    [InlineData("S260Repeatshare")] // exits, shared weights, a repeated layer, propagation
    [InlineData("S260Combo")]       // pruning, shallow decoding
    [InlineData("OddExits")]        // tails of every width
    public void Forward_steps_allocate_nothing(string engineName)
    {
        var type = EngineCatalog.ByName(engineName);
        using var engine = EngineCatalog.Load(type, TestModels.PathFor(EngineCatalog.PlanPath(type)));
        using var session = engine.CreateSession(128);
        int[] prompt = [1, 3, 5, 7];
        session.Forward(prompt);
        for (var i = 0; i < 8; i++) session.Forward(i + 3); // warm up: JIT, statics
        // The runtime may allocate once on this thread while it recompiles a method (tiering, on-stack replacement),
        // which a loaded machine can push into the measured window; an allocation per step shows in every round.
        var allocated = new List<long>();
        for (var round = 0; round < 4; round++)
        {
            session.Rewind(0);
            var before = GC.GetAllocatedBytesForCurrentThread();
            session.Forward(prompt);
            for (var i = 0; i < 64; i++) session.Forward((i * 7 + 11) % engine.Config.VocabSize);
            session.Forward(prompt);
            allocated.Add(GC.GetAllocatedBytesForCurrentThread() - before);
            if (allocated[^1] == 0) return;
        }
        Assert.Fail($"Every round of 66 forward calls allocated: {string.Join(", ", allocated)} bytes.");
    }
}
