using System.Text.Json;
using SpecializedInfer.Cli;
using SpecializedInfer.Models;
using SpecializedInfer.Testing;
using SpecializedInfer.Tests.Plans;

namespace SpecializedInfer.Tests.Engines;

/// <summary>
/// A manifest whose <c>tensors</c> rename the model's tensors (issue 14 item 12): <c>si run --plan</c> and
/// <c>si eval --plan</c> bind the rewritten file by those names and produce what the original file produces.
/// </summary>
[Collection(GeneratedEngineFixture.Collection)]
public sealed class RenamedTensorCliTests(GeneratedEngineFixture engines) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("si-renamed-").FullName;

    private static string Stories => ModelLocator.Find("stories260K.gguf");

    private const string PlanBody = "\"share\": [ { \"layer\": 4, \"weightsOf\": 1 } ], \"exits\": [ { \"afterStep\": 2, \"criterion\": \"maxProbability\", \"threshold\": 0.6 } ]";

    /// <summary>(renamed model, its plan, the same plan for the original model).</summary>
    private (string Model, string Plan, string OriginalPlan) Files()
    {
        var model = Path.Combine(_dir, "renamed.gguf");
        RenamedTensors.Write(Stories, model, RenamedTensors.HuggingFace);
        using (var weights = LlamaWeights.Load(Stories, layersToBind: []))
            File.WriteAllText(Path.Combine(_dir, "renamed.model.json"),
                ManifestWriter.ToJson(ManifestCheck.FromConfig(weights.Config, "renamed") with { Tensors = RenamedTensors.HuggingFace }));
        File.Copy(Path.Combine(ReferencePlanExecutionTests.RepositoryModels, "stories260K.model.json"), Path.Combine(_dir, "stories260K.model.json"));
        var plan = Path.Combine(_dir, "renamed.plan.json");
        File.WriteAllText(plan, "{ \"manifest\": \"renamed.model.json\", " + PlanBody + " }");
        var original = Path.Combine(_dir, "original.plan.json");
        File.WriteAllText(original, "{ \"manifest\": \"stories260K.model.json\", " + PlanBody + " }");
        return (model, plan, original);
    }

    [Fact]
    public void Si_run_binds_renamed_tensors_on_both_engines()
    {
        var (model, plan, original) = Files();
        string[] run = ["run", "--prompt", "Once upon a time", "-n", "60"];
        var expected = Cli.Si.Run([.. run, "--model", Stories, "--plan", original]);
        Assert.Equal(ExitCodes.Success, expected.Code);
        foreach (var engine in new[] { "reference", "generated" })
        {
            var (code, text, err) = Cli.Si.RunCaching(engines.Cache, [.. run, "--model", model, "--plan", plan, "--engine", engine]);
            Assert.True(code == ExitCodes.Success, err);
            Assert.Equal(expected.Out, text);
        }
        // Without the manifest, GGUF's names are looked for and the file is refused naming the one missing.
        var plain = Cli.Si.Run([.. run, "--model", model]);
        Assert.Equal(ExitCodes.Failure, plain.Code);
        Assert.Contains("token_embd.weight", plain.Err);
    }

    [Fact]
    public void Si_eval_measures_renamed_tensors_as_the_original_model()
    {
        var (model, plan, original) = Files();
        var prompts = Path.Combine(_dir, "prompts.txt");
        File.WriteAllText(prompts, "Once upon a time\nThe dog ran\n");
        JsonElement Eval(string modelPath, string planPath, string json)
        {
            var (code, _, err) = Cli.Si.Run("eval", "--model", modelPath, "--plan", planPath, "--prompts", prompts, "-n", "32", "--json", json);
            Assert.True(code == ExitCodes.Success, err);
            return JsonDocument.Parse(File.ReadAllBytes(json)).RootElement;
        }
        var renamed = Eval(model, plan, Path.Combine(_dir, "renamed.json"));
        var expected = Eval(Stories, original, Path.Combine(_dir, "original.json"));
        foreach (var part in new[] { "teacherForced", "freeRunning", "planDepth" })
            Assert.Equal(expected.GetProperty(part).GetRawText(), renamed.GetProperty(part).GetRawText());
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
