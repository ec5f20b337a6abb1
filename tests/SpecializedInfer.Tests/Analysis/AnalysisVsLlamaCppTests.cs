using SpecializedInfer.Analysis;
using SpecializedInfer.Models;
using SpecializedInfer.Oracles;
using SpecializedInfer.Tests.Plans;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Tests.Analysis;

/// <summary><c>si analyze</c>'s perplexity of the full model is llama.cpp's on the same windows of the same text.</summary>
public sealed class AnalysisVsLlamaCppTests
{
    [Fact]
    public void The_full_models_perplexity_is_llama_cpps()
    {
        var model = ModelLocator.Find("stories260K.gguf");
        var text = File.ReadAllText(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "eval", "heldout-stories.txt"));
        using var weights = LlamaWeights.Load(model);
        var tokens = LlamaTokenizer.FromGguf(weights.File).Encode(text, addBos: true);
        var windows = TextWindows.Split(tokens, 128).Take(6).ToList();
        var report = LayerAnalysis.Run(weights, [windows[0][..32]], windows, new LayerAnalysisOptions { LacoMaxLayers = 2 });

        // NLL from llama.cpp's logits, each window from an empty cache, in double precision.
        using var oracle = new LlamaCppOracle(model, contextSize: 256);
        double nll = 0;
        long predictions = 0;
        foreach (var window in windows)
        {
            var logits = oracle.LogitsForAllPositions(window);
            for (var j = 0; j + 1 < window.Length; j++)
            {
                var max = logits[j].Max();
                nll += max + Math.Log(logits[j].Sum(l => Math.Exp(l - (double)max))) - logits[j][window[j + 1]];
                predictions++;
            }
        }
        var expected = Math.Exp(nll / predictions);
        Assert.Equal(predictions, report.Predictions);
        Assert.True(Math.Abs(report.Full.Perplexity - expected) <= 1e-4 * expected, $"llama.cpp {expected}, si analyze {report.Full.Perplexity}");
    }
}
