using MathNet.Numerics.LinearAlgebra;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Learning;
using SpecializedInfer.Models;
using SpecializedInfer.Tests.DynamicDepth;

namespace SpecializedInfer.Tests.Learning;

/// <summary>
/// Adapter exit heads (<c>si learn-exits --head adapter</c>): the fitted map is the ridge regression with a bias the
/// test solves a second way; the copy holds three small tensors per exit and no output matrix; and a plan naming the
/// adapter in front of the model's own head runs in the reference engine with the logits the test computes in double
/// precision from the observed states.
/// </summary>
public sealed class ExitAdapterTests : DynamicDepthTestBase
{
    private static readonly Lazy<LearnedExits> Adapters = new(() =>
    {
        var (trace, _) = ExitLearnerTests.Fitted.Value;
        using var weights = LlamaWeights.Load(Stories, layersToBind: []);
        return ExitLearner.Learn(trace, HeadProjection.OfModel(weights), weights.Config.NormEps, new LearnOptions { HeadKind = ExitHeadKind.Adapter });
    });

    [Fact]
    public void The_adapter_is_the_ridge_map_with_a_bias_to_the_normalized_final_state()
    {
        var (trace, _) = ExitLearnerTests.Fitted.Value;
        var learned = Adapters.Value;
        using var weights = LlamaWeights.Load(Stories, layersToBind: []);
        var eps = weights.Config.NormEps;
        var options = new LearnOptions();
        var rows = Enumerable.Range(0, trace.Count).Where(p => !options.IsHeldOut(trace.Group(p))).ToArray();
        for (var slot = 0; slot < 2; slot++)
        {
            // min |[X 1] A − Y|² + λ|A|² by QR on the augmented system; λ relative to the mean diagonal of [X 1]ᵀ[X 1].
            var x = Matrix<double>.Build.DenseOfRowArrays(rows.Select(p => Normalize(trace.State(slot, p), eps).Append(1).ToArray()));
            var y = Matrix<double>.Build.DenseOfRowArrays(rows.Select(p => Normalize(trace.FinalState(p), eps)));
            var lambda = options.HeadRidge * x.TransposeThisAndMultiply(x).Diagonal().Average();
            var a = x.Stack(Math.Sqrt(lambda) * Matrix<double>.Build.DenseIdentity(65)).QR().Solve(y.Stack(Matrix<double>.Build.Dense(65, 64)));

            var head = learned.Exits[slot].Head;
            var adapter = Assert.IsType<FittedAdapter>(head.Adapter);
            Assert.All(adapter.Norm, v => Assert.Equal(1f, v));
            Assert.Equal(weights.OutputNorm.Span.ToArray(), head.Norm.ToArray()); // the model's own head after it
            Assert.Equal(weights.Output.Span.ToArray(), head.Output.ToArray());
            var scale = a.Enumerate().Max(Math.Abs);
            for (var o = 0; o < 64; o++)
            {
                for (var i = 0; i < 64; i++)
                    Assert.True(Math.Abs(adapter.Weight[o * 64 + i] - a[i, o]) <= 1e-4 * scale, $"exit {slot} weight [{o}, {i}]: {adapter.Weight[o * 64 + i]} vs {a[i, o]}");
                Assert.True(Math.Abs(adapter.Bias[o] - a[64, o]) <= 1e-4 * scale, $"exit {slot} bias [{o}]");
            }
        }
        // The adapter earns its place: on held-out positions it picks the full model's token far more often than the
        // model's head on the same state (the full head's figure, for comparison, in ExitLearnerTests).
        Assert.True(learned.Exits[0].LearnedHeadAgreement.Rate > 2 * learned.Exits[0].ModelHeadAgreement.Rate,
            $"{learned.Exits[0].LearnedHeadAgreement.Rate} vs {learned.Exits[0].ModelHeadAgreement.Rate}");
    }

    [Fact]
    public void The_copy_holds_the_adapters_and_the_plan_runs_them_in_front_of_the_models_head()
    {
        var learned = Adapters.Value;
        var copy = Path.Combine(Dir, "stories260K.exit-adapters.gguf");
        ExitHeadFile.Write(Stories, copy, learned.Exits.Select(e => (e.Step, e.Head)).ToList());
        using (var source = GgufFile.Open(Stories))
        using (var written = GgufFile.Open(copy))
        {
            Assert.Equal(source.Tensors.Count + 3 * learned.Exits.Count, written.Tensors.Count);
            Assert.Equal([64L, 64L], written.GetTensor("exit.1.adapter.weight").Dimensions);
            Assert.False(written.HasTensor("exit.1.output.weight"));
        }

        // The plan's names: the adapter's tensors, then the model's own norm and output; written and read back whole.
        var head = learned.Exits[0].Head;
        var names = ExitHeadFile.NamesFor(1, head, "output_norm.weight", "output.weight");
        Assert.Equal(new Planning.ExitAdapter("exit.1.adapter.norm.weight", "exit.1.adapter.weight", "exit.1.adapter.bias"), names.Adapter);
        var planJson = PlanWriter.ToJson(new Planning.LayerPlan
        {
            Manifest = "stories260K.model.json",
            Exits = [new Planning.ExitPoint(1, Planning.ExitTest.Of(Planning.ExitCriterion.MaxProbability, 0), names)],
        }, "adapter");
        File.Copy(Path.Combine(SpecializedInfer.Tests.Plans.ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json"), Path.Combine(Dir, "stories260K.model.json"), overwrite: true);
        var planPath = Path.Combine(Dir, "adapter.plan.json");
        File.WriteAllText(planPath, planJson);
        Assert.Equal(names, PlanLoader.Load(planPath).Plan.Exits[0].Head);

        // Threshold 0: every generated token leaves after step 1 through the adapter and the model's head.
        using var engine = ReferenceEngine.Load(copy, planPath);
        using var session = engine.CreateSession(64);
        var observed = new Trace();
        var logits = Generate(session, 12, observed);
        var adapter = head.Adapter!;
        using var weights = LlamaWeights.Load(Stories, layersToBind: []);
        var eps = weights.Config.NormEps;
        for (var i = 0; i < 12; i++)
        {
            var x = Normalize(observed.States[(Prompt.Length + i, 1)], eps);
            var adapted = new float[64];
            for (var o = 0; o < 64; o++)
            {
                double sum = adapter.Bias[o];
                for (var k = 0; k < 64; k++) sum += adapter.Weight[o * 64 + k] * (x[k] * adapter.Norm[k]);
                adapted[o] = (float)sum;
            }
            var expected = HeadLogits(adapted, weights.OutputNorm.Span, weights.Output, eps);
            for (var v = 0; v < 512; v++) Assert.True(Math.Abs(expected[v] - logits[i][v]) <= 1e-4 * Math.Max(1, Math.Abs(expected[v])), $"token {i}, logit {v}");
        }
        Assert.Equal(12, session.Statistics.ExitsPerStep[1]);
    }

    [Fact]
    public void A_missing_or_misshapen_adapter_tensor_fails_the_load_with_its_name()
    {
        var learned = Adapters.Value;
        var copy = Path.Combine(Dir, "stories260K.exit-adapters.gguf");
        ExitHeadFile.Write(Stories, copy, learned.Exits.Select(e => (e.Step, e.Head)).ToList());
        using var weights = LlamaWeights.Load(copy, layersToBind: []);
        var missing = Assert.ThrowsAny<Exception>(() => weights.BindExitAdapter(new Planning.ExitAdapter("exit.1.adapter.norm.weight", "exit.9.adapter.weight")));
        Assert.Contains("exit.9.adapter.weight", missing.Message);
        var misshapen = Assert.Throws<GgufFormatException>(() => weights.BindExitAdapter(new Planning.ExitAdapter("exit.1.adapter.weight", "exit.1.adapter.weight")));
        Assert.Contains("exit.1.adapter.weight", misshapen.Message);
    }
}
