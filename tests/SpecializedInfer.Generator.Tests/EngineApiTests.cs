using SpecializedInfer.Engine;
using SpecializedInfer.Generator.Tests.Engines;
using SpecializedInfer.Generator.Tests.Support;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// What only generated engines have: static members, loading checks, the concrete session type. Session behaviour is
/// the shared contract (<see cref="GeneratedSessionContractTests"/>).
/// </summary>
public sealed class EngineApiTests
{
    private static string Model => TestModels.Stories260K;

    [Fact]
    public void Static_members_describe_the_plan_and_manifest()
    {
        var planPath = EngineCatalog.PlanPath(typeof(S260Combo));
        var plan = PlanLoader.Load(planPath);
        Assert.Equal(plan.Manifest, S260Combo.Manifest);
        Assert.Equal(plan.Schedule, S260Combo.CompiledSchedule);
        Assert.Equal(ExecutionSchedule.Resolve(plan.Plan, plan.Manifest), S260Combo.CompiledSchedule);
        Assert.Equal("Plans/s260.combo.plan.json", S260Combo.PlanFile);
        using var engine = S260Combo.Load(Model);
        Assert.Equal("S260Combo", engine.Name);
        Assert.Same(S260Combo.CompiledSchedule, engine.Schedule);
        Assert.Equal(2048, engine.CreateSession().ContextLength);
    }

    [Fact]
    public void Load_binds_only_the_layers_the_schedule_reads()
    {
        using var engine = S260Combo.Load(Model); // prune 3; layer 4 runs with layer 2's weights
        var weights = (SpecializedInfer.Models.LlamaWeights)typeof(S260Combo)
            .GetField("_weights", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(engine)!;
        Assert.Equal([true, true, true, false, false], weights.Layers.Select(l => l is not null));
    }

    [Fact]
    public void Loading_a_model_of_another_shape_names_the_first_mismatch()
    {
        var e = Assert.Throws<ManifestMismatchException>(() => S260Full.Load(TestModels.PathFor("odd.x.plan.json")));
        Assert.Equal("dim", e.Property);
        Assert.Contains("stories260K.model.json", e.Message);
    }

    [Fact]
    public void The_generated_session_is_a_concrete_type_and_an_IInferenceSession()
    {
        using var engine = S260Full.Load(Model);
        S260Full.Session session = engine.CreateSession(8);
        IInferenceSession viaInterface = ((ILanguageModel)engine).CreateSession(8);
        Assert.IsType<S260Full.Session>(viaInterface);
        Assert.Equal(session.Forward(1).ToArray(), viaInterface.Forward(1).ToArray());
    }
}

/// <summary>Arithmetic the emitter relies on when it writes constants.</summary>
public sealed class EmitterArithmeticTests
{
    [Fact]
    public void The_attention_scale_constant_equals_what_the_reference_computes()
    {
        // The generator (netstandard2.0, no MathF) writes 1f / (float)Math.Sqrt(headDim) as a constant; the reference
        // computes 1f / MathF.Sqrt(headDim). They agree for every head dimension a manifest allows.
        for (var h = 1; h <= 1 << 16; h++) Assert.Equal(1f / MathF.Sqrt(h), 1f / (float)Math.Sqrt(h));
        var scale = (float)typeof(S260Full).Assembly.GetTypes().Single(t => t.Name == "S260FullKernels") // the engine's kernel class (the session's nested Kernels only derives from it)
            .GetField("AttentionScale", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.GetRawConstantValue()!;
        Assert.Equal(1f / MathF.Sqrt(8), scale);
    }
}
