using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// The pipeline caches: an unrelated C# edit re-runs no named step, and editing one plan regenerates only the
/// engine of that plan (and its kernels only when their shapes change).
/// </summary>
public sealed class IncrementalityTests
{
    private static readonly string[] StepNames = TrackingNames();

    private static string[] TrackingNames() =>
        GeneratorHarness.GeneratorAssembly.GetType("SpecializedInfer.Generators.TrackingNames", throwOnError: true)!
            .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetRawConstantValue()!).ToArray();

    private static (GeneratorDriver Driver, CSharpCompilation Compilation) FirstRun(List<AdditionalText> texts)
    {
        var compilation = GeneratorHarness.Compilation(BaselineTests.Source, "namespace Other; public class Unrelated { public int A => 1; }");
        var driver = GeneratorHarness.Driver(texts, trackSteps: true).RunGenerators(compilation);
        var trees = driver.GetRunResult().GeneratedTrees.Select(t => Path.GetFileName(t.FilePath)).ToList();
        Assert.Equal(2, trees.Count(GeneratorHarness.IsEngineFile));
        Assert.Equal(2, trees.Count(t => t.EndsWith(".Kernels.g.cs", StringComparison.Ordinal)));
        Assert.Single(trees, GeneratorHarness.VectorMathHintName);
        return (driver, compilation);
    }

    private static IEnumerable<IncrementalStepRunReason> Reasons(GeneratorRunResult run, string step) =>
        run.TrackedSteps.TryGetValue(step, out var steps) ? steps.SelectMany(s => s.Outputs).Select(o => o.Reason) : [];

    [Fact]
    public void Every_named_step_is_tracked()
    {
        var (driver, _) = FirstRun(GeneratorHarness.ModelFiles());
        var run = driver.GetRunResult().Results.Single();
        Assert.All(StepNames, name => Assert.True(run.TrackedSteps.ContainsKey(name), $"step {name} was not tracked"));
    }

    [Fact]
    public void An_unrelated_edit_leaves_every_step_cached()
    {
        var (driver, compilation) = FirstRun(GeneratorHarness.ModelFiles());
        var unrelated = compilation.SyntaxTrees.Single(t => t.ToString().Contains("Unrelated"));
        var edited = compilation.ReplaceSyntaxTree(unrelated,
            CSharpSyntaxTree.ParseText("namespace Other; public class Unrelated { public int A => 2; public int B => 3; }", GeneratorHarness.ParseOptions, unrelated.FilePath));
        var run = driver.RunGenerators(edited).GetRunResult().Results.Single();
        foreach (var name in StepNames)
            Assert.All(Reasons(run, name), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{name}: {r}"));
        Assert.All(run.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void Editing_one_plan_regenerates_only_its_engine()
    {
        var texts = GeneratorHarness.ModelFiles();
        var (driver, compilation) = FirstRun(texts);
        var fast = texts.Single(t => t.Path.EndsWith("stories260K.fast.plan.json"));
        var editedFast = new InMemoryAdditionalText(fast.Path, fast.GetText()!.ToString().Replace("0.9 }", "0.8 }"));
        driver = driver.ReplaceAdditionalText(fast, editedFast);
        var result = driver.RunGenerators(compilation).GetRunResult();
        var run = result.Results.Single();

        var sources = run.TrackedSteps["EngineSources"].SelectMany(s => s.Outputs).ToList();
        Assert.Equal(2, sources.Count);
        // The outputs are EngineSource records (HintName, Text): tell them apart by their hint name.
        var full = sources.Single(o => o.Value.ToString()!.Contains("Demo.StoriesFull.g.cs"));
        var fastOutput = sources.Single(o => o.Value.ToString()!.Contains("Demo.StoriesFast.g.cs"));
        Assert.True(full.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"full: {full.Reason}");
        Assert.Equal(IncrementalStepRunReason.Modified, fastOutput.Reason);
        Assert.Contains("0.8", result.GeneratedTrees.Single(t => t.FilePath.EndsWith("Demo.StoriesFast.g.cs")).ToString());
        // A threshold leaves the kernel shapes alone: the edited engine's kernel set compares equal, so its kernels are not re-emitted.
        var kernelSets = run.TrackedSteps["KernelSets"].SelectMany(s => s.Outputs).ToList();
        Assert.Equal(2, kernelSets.Count);
        Assert.All(kernelSets, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"kernel set: {o.Reason}"));
        Assert.All(Reasons(run, "KernelSources"), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
        Assert.All(Reasons(run, "EngineTargets"), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));
    }

    [Fact]
    public void An_edit_that_changes_the_kernel_shapes_re_emits_that_engines_kernels()
    {
        var texts = GeneratorHarness.ModelFiles();
        var (driver, compilation) = FirstRun(texts);
        var fast = texts.Single(t => t.Path.EndsWith("stories260K.fast.plan.json"));
        var lossless = texts.Single(t => t.Path.EndsWith("stories260K.lossless.plan.json"));
        // A lossless plan verifies drafts with the head batched: one more MatMat kernel, the vocabulary-sized one.
        driver = driver.ReplaceAdditionalText(fast, new InMemoryAdditionalText(fast.Path, lossless.GetText()!.ToString()));
        var result = driver.RunGenerators(compilation).GetRunResult();
        var kernels = result.Results.Single().TrackedSteps["KernelSources"].SelectMany(s => s.Outputs).ToList();
        Assert.Equal(IncrementalStepRunReason.Modified, kernels.Single(o => o.Value.ToString()!.Contains("Demo.StoriesFast.Kernels.g.cs")).Reason);
        var full = kernels.Single(o => o.Value.ToString()!.Contains("Demo.StoriesFull.Kernels.g.cs"));
        Assert.True(full.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"full: {full.Reason}");
        string Kernels(string engine) => result.GeneratedTrees.Single(t => t.FilePath.EndsWith($"Demo.{engine}.Kernels.g.cs", StringComparison.Ordinal)).ToString();
        Assert.Contains("void MatMat512x64(", Kernels("StoriesFast"));
        Assert.DoesNotContain("void MatMat512x64(", Kernels("StoriesFull"));
    }

    [Fact]
    public void Breaking_one_plan_removes_only_its_engine_and_fixing_it_brings_it_back()
    {
        var texts = GeneratorHarness.ModelFiles();
        var (driver, compilation) = FirstRun(texts);
        var fast = texts.Single(t => t.Path.EndsWith("stories260K.fast.plan.json"));
        var original = fast.GetText()!.ToString();
        var broken = new InMemoryAdditionalText(fast.Path, original.Replace("\"manifest\"", "\"prune\": [99], \"manifest\""));
        driver = driver.ReplaceAdditionalText(fast, broken).RunGenerators(compilation);
        var result = driver.GetRunResult();
        Assert.Empty(result.Diagnostics); // the analyzer reports SI0009; the generator stays silent
        Assert.Equal("Demo.StoriesFull.g.cs", Path.GetFileName(Assert.Single(GeneratorHarness.EngineTrees(result)).FilePath));
        Assert.DoesNotContain(result.GeneratedTrees, t => t.FilePath.EndsWith("Demo.StoriesFast.Kernels.g.cs", StringComparison.Ordinal));
        var full = result.Results.Single().TrackedSteps["EngineSources"].SelectMany(s => s.Outputs)
            .Single(o => o.Value?.ToString()?.Contains("Demo.StoriesFull.g.cs") == true);
        Assert.True(full.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"full: {full.Reason}");

        var repaired = new InMemoryAdditionalText(fast.Path, original);
        result = driver.ReplaceAdditionalText(broken, repaired).RunGenerators(compilation).GetRunResult();
        Assert.Equal(2, GeneratorHarness.EngineTrees(result).Count);
        Assert.Contains(result.GeneratedTrees, t => t.FilePath.EndsWith("Demo.StoriesFast.Kernels.g.cs", StringComparison.Ordinal));
    }
}
