using SpecializedInfer.Planning;

namespace SpecializedInfer.Tests.Plans;

/// <summary>Plans written by <see cref="PlanWriter"/> read back, through <see cref="PlanReader"/>, into the same plan.</summary>
public sealed class PlanWriterTests
{
    private static readonly ModelManifest Stories = ManifestReader.Read(
        File.ReadAllText(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json")), "stories260K.model.json").Manifest!;

    [Theory]
    [InlineData("""{ "manifest": "m.model.json" }""")]
    [InlineData("""{ "manifest": "a/ü \"q\".model.json", "prune": [0], "merge": [ { "layers": [3, 4] } ], "share": [ { "layer": 2, "weightsOf": 1 } ], "order": [1, 2, 3, 1], "skipAttention": [2], "skipFeedForward": [1] }""")]
    [InlineData("""
        { "manifest": "m.model.json", "decodeDepth": 4,
          "exits": [
            { "afterStep": 0, "criterion": "learned", "threshold": 0.75, "probe": "../p/x.probe.json" },
            { "afterStep": 1, "criterion": "ensemble", "votes": 2, "members": [ { "criterion": "maxProbability", "threshold": 0.1 }, { "criterion": "entropy", "threshold": 1.25 }, { "criterion": "stateSaturation", "threshold": -0.5 } ] },
            { "afterStep": 2, "criterion": "patience", "patience": 2, "head": { "norm": "n.weight", "output": "o.weight" } } ],
          "skip": [ { "layer": 2, "test": "cosine", "threshold": 0.97 }, { "layer": 1, "test": "learned", "threshold": 0.3, "probe": "y.probe.json" } ],
          "kvFill": "recompute" }
        """)]
    [InlineData("""{ "manifest": "m.model.json", "kvFill": "lossless", "speculation": { "draftSteps": 3, "draftTokens": 5 }, "exits": [ { "afterStep": 2, "criterion": "margin", "threshold": 0.3 } ] }""")]
    public void A_written_plan_reads_back_as_the_same_plan(string json)
    {
        var plan = PlanReader.Read(json, "p.plan.json", Stories).Plan!;
        Assert.NotNull(plan);
        var written = PlanWriter.ToJson(plan, "a description");
        var read = PlanReader.Read(written, "q.plan.json", Stories);
        Assert.Empty(read.Problems);
        Assert.Equal(plan, read.Plan);
        Assert.Equal(written, PlanWriter.ToJson(read.Plan!, "a description"));
    }
}
