using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Synthesis;

namespace SpecializedInfer.Tests.Engine;

/// <summary>
/// What loading expands to F32: predicted from the file and the schedule (for generated engines, which keep their
/// weights to themselves) exactly as the loader counts it, and told by <c>si run</c>.
/// </summary>
public sealed class DequantizedWeightsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-dequantized-").FullName;

    [Theory]
    [InlineData(GgmlType.Q8_0, true)]
    [InlineData(GgmlType.F16, false)]
    public void The_prediction_equals_what_the_loader_expanded(GgmlType type, bool tied)
    {
        var spec = new SyntheticModelSpec { Dim = 64, HiddenDim = 160, Layers = 4, Heads = 4, VocabSize = 400, ContextLength = 32, Seed = 4, TiedOutput = tied, MatrixType = type };
        var path = Path.Combine(_dir, $"{type}.gguf");
        SyntheticModel.Write(spec, path);
        var manifest = new ModelManifest
        {
            Name = "m", Dim = 64, HiddenDim = 160, Layers = 4, Heads = 4, KvHeads = 4, HeadDim = 16, RotaryDims = 16, VocabSize = 400, ContextLength = 32, TiedOutput = tied,
        };
        foreach (var schedule in new[]
                 {
                     ExecutionSchedule.Full(4),
                     ExecutionSchedule.Resolve(new LayerPlan { Manifest = "m.model.json", Prune = [1], Share = [new LayerShare(3, 0)] }, manifest),
                 })
        {
            using var engine = new ReferenceEngine(LlamaWeights.Load(path, schedule.WeightLayers), schedule, ownsWeights: true);
            var loaded = DequantizedWeights.Of(engine.Weights);
            Assert.True(loaded.Tensors > 0 || type == GgmlType.Q8_0);
            // A generated engine reads floats: it expands the Q8_0 matrices the reference engine keeps in blocks.
            if (type == GgmlType.Q8_0)
                Assert.Equal(1 + 7 * schedule.LoadedLayers.Count(), DequantizedWeights.Predict(engine.Weights.File, engine.Config, TensorNames.Gguf, schedule).Tensors);
            Assert.Equal(loaded, DequantizedWeights.Predict(engine.Weights.File, engine.Config, TensorNames.Gguf, schedule, multipliesQuantizedBlocks: true));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_exit_head_naming_the_models_own_head_shares_it_instead_of_expanding_it_again(bool tied)
    {
        var spec = new SyntheticModelSpec { Dim = 64, HiddenDim = 160, Layers = 3, Heads = 4, VocabSize = 400, ContextLength = 32, Seed = 5, TiedOutput = tied, MatrixType = GgmlType.F16 };
        var path = Path.Combine(_dir, $"head-{tied}.gguf");
        SyntheticModel.Write(spec, path);
        var modelOutput = tied ? TensorNames.Gguf.TokenEmbedding : TensorNames.Gguf.Output;
        var full = ExecutionSchedule.Full(3);
        var manifest = new ModelManifest
        {
            Name = "m", Dim = 64, HiddenDim = 160, Layers = 3, Heads = 4, KvHeads = 4, HeadDim = 16, RotaryDims = 16, VocabSize = 400, ContextLength = 32, TiedOutput = tied,
        };
        var plan = new LayerPlan
        {
            Manifest = "m.model.json",
            Exits = [new ExitPoint(1, ExitTest.Of(ExitCriterion.MaxProbability, 0.9), new ExitHead(TensorNames.Gguf.OutputNorm, modelOutput))],
        };
        var schedule = ExecutionSchedule.Resolve(plan, manifest);

        using var plain = new ReferenceEngine(LlamaWeights.Load(path), full, ownsWeights: true);
        var expectedTensors = DequantizedWeights.Of(plain.Weights);
        using var engine = new ReferenceEngine(LlamaWeights.Load(path), schedule, ownsWeights: true);
        var head = engine.Weights.BindExitHead(schedule.Exits.Single().Head!);
        // The head's tensors are the model's (the same floats in memory), not a second expansion.
        Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(head.Output.Span), ref MemoryMarshal.GetReference(engine.Weights.Output.Span)));
        Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(head.Norm.Span), ref MemoryMarshal.GetReference(engine.Weights.OutputNorm.Span)));
        Assert.Equal(expectedTensors, DequantizedWeights.Of(engine.Weights));
        Assert.Equal(expectedTensors, DequantizedWeights.Predict(engine.Weights.File, engine.Config, TensorNames.Gguf, schedule, multipliesQuantizedBlocks: true));
    }

    [Fact]
    public void Si_run_says_how_many_tensors_were_expanded_and_what_they_take()
    {
        var spec = new SyntheticModelSpec { Dim = 64, HiddenDim = 160, Layers = 2, Heads = 4, VocabSize = 400, ContextLength = 32, Seed = 4, MatrixType = GgmlType.F16 };
        var path = Path.Combine(_dir, "f16.gguf");
        SyntheticModel.Write(spec, path);
        using var weights = LlamaWeights.Load(path);
        var (code, _, err) = Cli.Si.Run("run", "--model", path, "--prompt", "abc", "-n", "2");
        Assert.Equal(0, code);
        var fileBytes = weights.DequantizedFileBytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        var bytes = weights.DequantizedBytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(
            $"note: {weights.DequantizedTensors} tensors not stored as F32 ({fileBytes} bytes in the file) were expanded to F32 at load and take {bytes} bytes of memory (the reference engine multiplies F32, Q8_0 and Q4_0 matrices; generated engines F32 only)",
            err.Split('\n')[0]);

        var f32 = Path.Combine(_dir, "f32.gguf");
        SyntheticModel.Write(spec with { MatrixType = GgmlType.F32 }, f32);
        Assert.DoesNotContain("note:", Cli.Si.Run("run", "--model", f32, "--prompt", "abc", "-n", "2").Err);
        // Q8_0 matrices stay in their blocks in the reference engine: nothing expanded, nothing to note.
        var q8 = Path.Combine(_dir, "q8.gguf");
        SyntheticModel.Write(spec with { MatrixType = GgmlType.Q8_0 }, q8);
        Assert.DoesNotContain("note:", Cli.Si.Run("run", "--model", q8, "--prompt", "abc", "-n", "2").Err);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
