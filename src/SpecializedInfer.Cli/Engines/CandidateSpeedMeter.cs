using SpecializedInfer.Evaluation;
using SpecializedInfer.Learning.Search;
using SpecializedInfer.Planning;
using SpecializedInfer.Tokenization;

namespace SpecializedInfer.Cli.Engines;

/// <summary>
/// <c>si plan</c>'s speed measure: each candidate written as a plan file beside the search's manifest, loaded by the
/// <see cref="EngineFactory"/> (its generated engine, compiled in-process and cached) and timed against the full
/// model's engine of the same kind, the two taking turns on the same prompts (<see cref="QualityEvaluator.FreeRunning"/>,
/// after an untimed warm-up; the median of three passes).
/// </summary>
internal sealed class CandidateSpeedMeter(EngineFactory factory, string modelPath, string folder, ITokenizer tokenizer,
    IReadOnlyList<int[]> prompts, int tokensPerPrompt) : ICandidateSpeedMeter, IDisposable
{
    private readonly Dictionary<EngineKind, LoadedEngine> _full = [];
    private const int Rounds = 3;

    private readonly EvaluationOptions _options = new() { MaxNewTokens = tokensPerPrompt };

    /// <summary>Where candidate <paramref name="name"/>'s plan file is written.</summary>
    public string PlanPath(string name) => Path.Combine(folder, name + ".plan.json");

    public CandidateSpeed Measure(PlanCandidate candidate, LayerPlan calibrated)
    {
        var path = PlanPath(candidate.Name);
        var text = PlanWriter.ToJson(calibrated, $"si plan candidate: {candidate.What}");
        File.WriteAllText(path + ".tmp", text);
        File.Move(path + ".tmp", path, overwrite: true);
        var loaded = PlanLoader.Load(path);
        return Time(factory, loaded, note: null); // generated engines run every plan the reference runs (sub-layer drops, merges)
    }

    private CandidateSpeed Time(EngineFactory engines, LoadedPlan plan, string? note)
    {
        if (!_full.TryGetValue(engines.Kind, out var full)) _full[engines.Kind] = full = engines.LoadFull(modelPath, plan);
        using var engine = engines.Load(modelPath, plan);
        var evaluator = new QualityEvaluator(full.Engine, engine.Engine, tokenizer, _options);
        // A fresh engine's first calls run unoptimized code (JIT, tiering): one prompt first, untimed. Then the median of
        // three timed passes, since one slow pass on a shared machine would otherwise decide a candidate's place.
        evaluator.FreeRunning(prompts.Take(1).ToList());
        var speed = Enumerable.Range(0, Rounds).Select(_ => evaluator.FreeRunning(prompts).Speed).OrderBy(s => s.Speedup).ElementAt(Rounds / 2);
        return new CandidateSpeed(speed.Speedup, speed.Plan.TokensPerSecond, speed.Full.TokensPerSecond, engines.Kind == EngineKind.Generated ? "generated" : "reference", note);
    }

    public void Dispose()
    {
        foreach (var engine in _full.Values) engine.Dispose();
    }
}
