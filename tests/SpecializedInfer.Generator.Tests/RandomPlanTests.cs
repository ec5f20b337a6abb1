using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

public sealed class RandomPlanTests
{
    [Fact]
    public void Committed_random_plans_are_the_seeded_writers_output()
    {
        var folder = Path.Combine(GeneratorHarness.TestFolder(), "Plans");
        var update = Environment.GetEnvironmentVariable("SPECIALIZEDINFER_UPDATE_BASELINES") == "1";
        foreach (var (fileName, json) in RandomPlans.Create())
        {
            var path = Path.Combine(folder, fileName);
            if (update) File.WriteAllText(path, json);
            else Assert.Equal(json, File.ReadAllText(path).ReplaceLineEndings("\n"));
        }
        Assert.Equal(RandomPlans.Count, Directory.GetFiles(folder, "*.rand*.plan.json").Length);
    }
}
