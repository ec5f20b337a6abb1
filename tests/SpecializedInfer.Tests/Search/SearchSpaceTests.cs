using SpecializedInfer.Learning.Search;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Tests.Search;

/// <summary>The candidates si plan tries on a five-layer model, the order a budget takes them in, and combinations.</summary>
public sealed class SearchSpaceTests
{
    private static readonly IReadOnlyList<IReadOnlyList<PlanCandidate>> Families = SearchSpace.Families("m.model.json", 5, [2, 4, 1, 0], learned: null);

    [Fact]
    public void Every_candidate_is_a_plan_the_plan_reader_accepts_and_pruning_follows_the_SLEB_order()
    {
        // Written and read back as si plan does, so every check of the plan reader (SI diagnostics) applies.
        var dir = Directory.CreateTempSubdirectory("si-search-space-").FullName;
        try
        {
            File.Copy(Path.Combine(Plans.ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json"), Path.Combine(dir, "m.model.json"));
            foreach (var candidate in Families.SelectMany(f => f))
            {
                var path = Path.Combine(dir, candidate.Name + ".plan.json");
                File.WriteAllText(path, PlanWriter.ToJson(candidate.Plan));
                var loaded = PlanLoader.Load(path);
                Assert.Equal(ExecutionSchedule.Resolve(candidate.Plan, 5), loaded.Schedule);
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
        var prune = Families.SelectMany(f => f).Where(c => c.Kind == CandidateKind.Prune).Select(c => c.Plan.Prune.ToArray()).ToList();
        Assert.Equal([[2], [2, 4], [1, 2, 4], [0, 1, 2, 4]], prune);
        var exits = Families.SelectMany(f => f).Where(c => c.Kind == CandidateKind.Exits).ToList();
        Assert.All(exits, c => Assert.All(c.Plan.Exits, e => Assert.InRange(e.AfterStep, 1, 3)));   // middle steps only
        Assert.Equal(4 * 4, exits.Count);                                                             // 4 criteria × (all + each of 3)
        Assert.Equal(10, Families.SelectMany(f => f).Count(c => c.Kind == CandidateKind.SubLayer)); // attention and feed-forward of each layer
    }

    [Fact]
    public void Interleaving_takes_one_of_each_family_in_turn()
    {
        var order = SearchSpace.Interleave(Families).ToList();
        Assert.Equal(Families.Sum(f => f.Count), order.Count);
        Assert.Equal(Families.Select(f => f[0]), order.Take(Families.Count));
        Assert.Equal(Families.Where(f => f.Count > 1).Select(f => f[1]), order.Skip(Families.Count).Take(Families.Count(f => f.Count > 1)));
    }

    [Fact]
    public void Combining_keeps_only_exits_before_the_last_step_of_the_structure()
    {
        var all = Families.SelectMany(f => f).ToList();
        var exits = all.Single(c => c.Name == "maxp-123");
        var pruneTwo = all.Single(c => c.Name == "prune24");                 // three steps left: exits after 0 or 1 only
        var combined = SearchSpace.Combine(pruneTwo, exits, 5)!;
        Assert.Equal([1], combined.Plan.Exits.Select(e => e.AfterStep));
        Assert.Equal([2, 4], combined.Plan.Prune);
        Assert.Equal(CandidateCalibration.ExitStrictness, combined.Calibration);
        Assert.Null(SearchSpace.Combine(all.Single(c => c.Name == "prune0124"), exits, 5));
    }
}
