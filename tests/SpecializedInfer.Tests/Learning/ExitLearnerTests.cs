using System.Security.Cryptography;
using MathNet.Numerics.LinearAlgebra;
using SpecializedInfer.Engine;
using SpecializedInfer.Gguf;
using SpecializedInfer.Learning;
using SpecializedInfer.Models;
using SpecializedInfer.Tests.DynamicDepth;
using SpecializedInfer.Tracing;

namespace SpecializedInfer.Tests.Learning;

/// <summary>
/// Exits learned on stories260K's own continuations: the head is the ridge map the test solves a second way, the
/// copy of the model holds exactly the fitted tensors and nothing else changes, and a plan naming the head runs in the
/// reference engine with the logits the test computes in double precision from the observed states.
/// </summary>
public sealed class ExitLearnerTests : DynamicDepthTestBase
{
    /// <summary>Exits after steps 1 and 3 learned on the first ten evaluation prompts (greedy and one sample each, 32 tokens).</summary>
    internal static readonly Lazy<(TeacherForcedTrace Trace, LearnedExits Learned)> Fitted = new(() =>
    {
        using var full = ReferenceEngine.Load(Stories);
        var tokenizer = SpecializedInfer.Tokenization.LlamaTokenizer.FromGguf(full.Weights.File);
        var requests = TraceRequest.Continuations(LearningData.Encode(tokenizer, LearningData.Prompts.Take(10)), 32, 1, 3).ToList();
        var trace = TeacherForcedTrace.Record(full, requests, [1, 3], tokenizer.EosId);
        return (trace, ExitLearner.Learn(trace, HeadProjection.OfModel(full.Weights), full.Config.NormEps));
    });

    [Fact]
    public void The_exit_head_is_the_ridge_map_to_the_final_state_through_the_models_head()
    {
        var (trace, learned) = Fitted.Value;
        using var weights = LlamaWeights.Load(Stories, layersToBind: []);
        var eps = weights.Config.NormEps;
        var options = new LearnOptions();
        var rows = Enumerable.Range(0, trace.Count).Where(p => !options.IsHeldOut(trace.Group(p))).ToArray();
        Assert.Equal(learned.TrainingPositions, rows.Length);
        Assert.InRange(learned.HeldOutPositions, 1, trace.Count - 1);
        var g = weights.OutputNorm.Span.ToArray();

        for (var slot = 0; slot < 2; slot++)
        {
            // min |X A − Y|² + λ|A|² as least squares on [X; √λ I], by QR; λ relative to XᵀX's mean diagonal as documented.
            var x = Matrix<double>.Build.DenseOfRowArrays(rows.Select(p => Normalize(trace.State(slot, p), eps)));
            var y = Matrix<double>.Build.DenseOfRowArrays(rows.Select(p => Normalize(trace.FinalState(p), eps).Select((v, i) => v * g[i]).ToArray()));
            var lambda = options.HeadRidge * x.TransposeThisAndMultiply(x).Diagonal().Average();
            var a = x.Stack(Math.Sqrt(lambda) * Matrix<double>.Build.DenseIdentity(64)).QR().Solve(y.Stack(Matrix<double>.Build.Dense(64, 64)));
            var w = Matrix<double>.Build.Dense(512, 64, (r, c) => weights.Output.Row(r)[c]);
            var expected = w * a.Transpose(); // [vocab × dim]
            var head = learned.Exits[slot].Head;
            Assert.All(head.Norm.ToArray(), v => Assert.Equal(1f, v));
            var scale = expected.Enumerate().Max(Math.Abs);
            for (var r = 0; r < 512; r++)
            for (var c = 0; c < 64; c++)
                Assert.True(Math.Abs(head.Output[r * 64 + c] - expected[r, c]) <= 1e-4 * scale, $"exit {slot} [{r}, {c}]: {head.Output[r * 64 + c]} vs {expected[r, c]}");
        }
    }

    [Fact]
    public void Held_out_agreement_counts_are_the_heads_argmax_against_the_full_models_token()
    {
        var (trace, learned) = Fitted.Value;
        using var weights = LlamaWeights.Load(Stories, layersToBind: []);
        var options = new LearnOptions();
        var held = Enumerable.Range(0, trace.Count).Where(p => options.IsHeldOut(trace.Group(p))).ToArray();
        for (var slot = 0; slot < 2; slot++)
        {
            var e = learned.Exits[slot];
            var model = held.Count(p => ArgMax(HeadLogits(trace.State(slot, p), weights.OutputNorm.Span, weights.Output, weights.Config.NormEps)) == trace.Target(p));
            Assert.Equal(held.Length, e.ModelHeadAgreement.Positions);
            Assert.InRange(e.ModelHeadAgreement.Agreements, model - 1, model + 1); // float vs double on a near-tie at most
            Assert.Equal(e.ModelHeadAgreement.Agreements, e.Probe.HeldOutPositives);
            Assert.InRange(e.Probe.HeldOutAuc, 0.5, 1);
            Assert.InRange(e.HeadProbe.HeldOutAuc, 0.5, 1);
        }
        // The deeper exit agrees more often, and the learned head beats the model's own head on the first layers.
        Assert.True(learned.Exits[1].ModelHeadAgreement.Rate > learned.Exits[0].ModelHeadAgreement.Rate);
        Assert.True(learned.Exits[0].LearnedHeadAgreement.Rate > learned.Exits[0].ModelHeadAgreement.Rate);
    }

    [Fact]
    public void The_copy_holds_the_fitted_heads_and_every_original_tensor_and_the_plan_runs_them()
    {
        var (_, learned) = Fitted.Value;
        var copy = Path.Combine(Dir, "stories260K.exit-heads.gguf");
        var before = SHA256.HashData(File.ReadAllBytes(Stories));
        ExitHeadFile.Write(Stories, copy, learned.Exits.Select(e => (e.Step, e.Head)).ToList());
        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(Stories)));
        Assert.Throws<ArgumentException>(() => ExitHeadFile.Write(Stories, Stories, []));
        Assert.Contains("already has", Assert.Throws<ArgumentException>(() => ExitHeadFile.Write(copy, copy + ".2", learned.Exits.Select(e => (e.Step, e.Head)).ToList())).Message);

        using (var source = GgufFile.Open(Stories))
        using (var written = GgufFile.Open(copy))
        {
            Assert.Equal(source.Tensors.Count + 4, written.Tensors.Count);
            foreach (var t in source.Tensors) Assert.True(source.GetBytes(t).SequenceEqual(written.GetBytes(written.GetTensor(t.Name))), t.Name);
            Assert.Equal(source.Metadata.Select(m => m.Key), written.Metadata.Select(m => m.Key));
        }
        using var weights = LlamaWeights.Load(copy);
        foreach (var e in learned.Exits)
        {
            var bound = weights.BindExitHead(ExitHeadFile.NamesFor(e.Step));
            Assert.Equal(e.Head.Norm.ToArray(), bound.Norm.Span.ToArray());
            Assert.Equal(e.Head.Output.ToArray(), bound.Output.Span.ToArray());
        }

        // Threshold 0: every generated token leaves after step 1 with the learned head's logits.
        var names = ExitHeadFile.NamesFor(1);
        var plan = Plan($"\"exits\": [ {{ \"afterStep\": 1, \"criterion\": \"maxProbability\", \"threshold\": 0, \"head\": {{ \"norm\": \"{names.Norm}\", \"output\": \"{names.Output}\" }} }} ]");
        using var engine = ReferenceEngine.Load(copy, plan);
        using var session = engine.CreateSession(64);
        var observed = new Trace();
        var logits = Generate(session, 12, observed);
        var head = learned.Exits[0].Head;
        var output = Matrix<double>.Build.Dense(512, 64, (r, c) => head.Output[r * 64 + c]);
        for (var i = 0; i < 12; i++)
        {
            var x = Vector<double>.Build.DenseOfArray(Normalize(observed.States[(Prompt.Length + i, 1)], engine.Config.NormEps));
            var expected = output * x; // norm weight 1
            for (var v = 0; v < 512; v++) Assert.True(Math.Abs(expected[v] - logits[i][v]) <= 1e-4 * Math.Max(1, Math.Abs(expected[v])), $"token {i}, logit {v}");
        }
        Assert.Equal(12, session.Statistics.ExitsPerStep[1]);
    }
}
