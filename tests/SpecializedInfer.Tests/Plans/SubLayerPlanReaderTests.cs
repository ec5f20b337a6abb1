using SpecializedInfer.Planning;

namespace SpecializedInfer.Tests.Plans;

/// <summary>skipAttention, skipFeedForward and merge as a user writes them: their schedule, and where mistakes are reported.</summary>
public sealed class SubLayerPlanReaderTests
{
    private static readonly ModelManifest Stories = ManifestReader.Read(
        File.ReadAllText(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json")), "stories260K.model.json").Manifest!;

    private static PlanReadResult Read(string body) => PlanReader.Read("{\n  \"manifest\": \"m\",\n  " + body + "\n}", "p.plan.json", Stories);

    [Fact]
    public void Sub_layer_pruning_follows_the_layer_through_order_and_share()
    {
        var result = Read("\"order\": [0, 1, 2, 2, 4], \"share\": [ { \"layer\": 4, \"weightsOf\": 1 } ], \"skipAttention\": [2], \"skipFeedForward\": [4]");
        Assert.Empty(result.Problems);
        var schedule = ExecutionSchedule.Resolve(result.Plan!, Stories);
        Assert.Equal([true, true, false, false, true], schedule.Steps.Select(s => s.RunsAttention));
        Assert.Equal([true, true, true, true, false], schedule.Steps.Select(s => s.RunsFeedForward));
        Assert.Equal([true, true, false, false, true], schedule.Steps.Select(s => s.HasKvCache));
        Assert.True(schedule.HasSubLayerPruning);
        Assert.False(schedule.IsFullModel);
        Assert.Equal("5 steps [0 1 2(-attn) 2(-attn) 4(w1,-ffn)]", schedule.Describe());
    }

    [Fact]
    public void A_merge_removes_the_layers_after_its_first_and_loads_all_of_them()
    {
        var result = Read("\"merge\": [ { \"layers\": [1, 2] }, { \"layers\": [3, 4] } ], \"share\": [ { \"layer\": 0, \"weightsOf\": 3 } ]");
        Assert.Empty(result.Problems);
        var schedule = ExecutionSchedule.Resolve(result.Plan!, Stories);
        Assert.Equal([0, 1, 3], schedule.Steps.Select(s => s.Layer));
        Assert.Equal([1, 3], schedule.WeightLayers);
        Assert.Equal([1, 2, 3, 4], schedule.LoadedLayers);
        Assert.Equal(new LayerMerge(3, 2), schedule.MergeInto(3));
        Assert.Null(schedule.MergeInto(0));
    }

    [Theory]
    [InlineData("\"skipAttention\": [2, 2]", ProblemIds.DuplicateIndex, "Layer 2 is listed twice in 'skipAttention'", "2]")]
    [InlineData("\"skipFeedForward\": [5]", ProblemIds.LayerOutOfRange, "found 5", "5")]
    [InlineData("\"prune\": [1], \"skipAttention\": [1]", ProblemIds.PrunedLayerUsed, "Layer 1 is pruned, so its attention cannot be dropped", "1]")]
    [InlineData("\"order\": [0, 1], \"skipAttention\": [3]", ProblemIds.InvalidSubLayerPruning, "Layer 3 never runs in the schedule", "3]")]
    [InlineData("\"skipAttention\": [3], \"skipFeedForward\": [3]", ProblemIds.InvalidSubLayerPruning, "Layer 3 would drop both its attention and its feed-forward", "3]")]
    [InlineData("\"merge\": [ { \"layers\": [1, 3] } ]", ProblemIds.InvalidMerge, "expected 2 after 1, found 3", "3]")]
    [InlineData("\"merge\": [ { \"layers\": [1] } ]", ProblemIds.InvalidMerge, "at least two consecutive layers", "[1]")]
    [InlineData("\"merge\": [ { \"layers\": [1, 2] }, { \"layers\": [2, 3] } ]", ProblemIds.InvalidMerge, "Layer 2 is already merged into layer 1", "2, 3")]
    [InlineData("\"merge\": [ { \"layers\": [1, 2] } ], \"order\": [0, 2]", ProblemIds.PrunedLayerUsed, "Layer 2 is merged into layer 1 but listed in 'order'", "2]")]
    [InlineData("\"merge\": [ { \"layers\": [1, 2] } ], \"skipAttention\": [2]", ProblemIds.PrunedLayerUsed, "Layer 2 is merged into layer 1, so its attention cannot be dropped", "2]")]
    [InlineData("\"merge\": [ { \"layers\": [1, 2] } ], \"share\": [ { \"layer\": 1, \"weightsOf\": 0 } ]", ProblemIds.InvalidMerge, "Layer 1 holds a merge", "1, \"weightsOf\"")]
    [InlineData("\"prune\": [2], \"merge\": [ { \"layers\": [1, 2] } ]", ProblemIds.PrunedLayerUsed, "Layer 2 is pruned, so it cannot be merged", "2] } ]")]
    public void Mistakes_are_reported_where_they_are(string body, string id, string message, string marker)
    {
        var result = Read(body);
        Assert.Null(result.Plan);
        var problem = Assert.Single(result.Problems, p => p.Id == id);
        Assert.Contains(message, problem.Message);
        // The last occurrence of the marker on the body's line (line 3 of the file, after two spaces).
        Assert.Equal((2, 2 + body.LastIndexOf(marker, StringComparison.Ordinal)), (problem.Range.StartLine, problem.Range.StartColumn));
    }
}
