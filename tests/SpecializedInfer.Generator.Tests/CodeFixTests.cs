using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Text;
using SpecializedInfer.CodeFixes;
using SpecializedInfer.Generator.Tests.Support;

namespace SpecializedInfer.Generator.Tests;

/// <summary>
/// The code fixes, as the IDE applies them: the analyzer's diagnostic on a plan held as an additional document of a
/// workspace project, the provider's code action, and the plan's text after the action's solution change.
/// </summary>
public sealed class CodeFixTests
{
    private const string PlanPath = GeneratorHarness.ProjectRoot + "/Plans/p.plan.json";
    private const string ManifestPath = GeneratorHarness.ProjectRoot + "/Plans/m.model.json";
    private const string Engine = "namespace Demo;\n[SpecializedInfer.SpecializedEngine(\"Plans/p.plan.json\")]\npublic partial class Engine;\n";
    private const string Manifest = """
        { "name": "m", "architecture": "llama", "dim": 64, "hiddenDim": 176, "layers": 5, "heads": 8, "kvHeads": 4,
          "normEps": 1e-05, "vocabSize": 512, "contextLength": 2048 }
        """;

    private static string Plan(string body) => "{\n  \"manifest\": \"m.model.json\",\n  " + body + "\n}\n";

    [Theory]
    [InlineData("SI0010", "\"prune\": [1, 1]", "\"prune\": [1]", "Remove the duplicate 1")]
    [InlineData("SI0010", "\"prune\": [1, 3, 1, 2]", "\"prune\": [1, 3, 2]", "Remove the duplicate 1")]
    [InlineData("SI0010", "\"prune\": [\n    2,\n    2\n  ]", "\"prune\": [\n    2\n  ]", "Remove the duplicate 2")]
    [InlineData("SI0009", "\"prune\": [7, 2]", "\"prune\": [2]", "Remove the out-of-range index 7")]
    [InlineData("SI0009", "\"order\": [0, 1, 9]", "\"order\": [0, 1]", "Remove the out-of-range index 9")]
    [InlineData("SI0009", "\"prune\": [5]", "\"prune\": []", "Remove the out-of-range index 5")]
    [InlineData("SI0002", "\"prun\": [3]", "\"prune\": [3]", "Rename to 'prune'")]
    [InlineData("SI0002", "\"decodeDept\": 2", "\"decodeDepth\": 2", "Rename to 'decodeDepth'")]
    [InlineData("SI0002", "\"exits\": [ { \"afterStp\": 1, \"criterion\": \"margin\", \"threshold\": 0.5 } ]", "\"exits\": [ { \"afterStep\": 1, \"criterion\": \"margin\", \"threshold\": 0.5 } ]", "Rename to 'afterStep'")]
    public async Task Fix_rewrites_the_plan(string id, string before, string after, string title)
    {
        var (actions, document) = await FixesFor(id, Plan(before));
        var action = Assert.Single(actions);
        Assert.Equal(title, action.Title);
        var fixedText = await Apply(action, document);
        Assert.Equal(Plan(after), fixedText);
        // The fixed plan no longer has the problem.
        var (diagnostics, _) = GeneratorHarness.Analyze(GeneratorHarness.Compilation(Engine),
            [new InMemoryAdditionalText(PlanPath, fixedText), new InMemoryAdditionalText(ManifestPath, Manifest)]);
        Assert.DoesNotContain(diagnostics, d => d.Id == id);
    }

    [Theory]
    [InlineData("SI0002", "\"xyzzy\": 1")] // nothing near: no guess
    [InlineData("SI0002", "\"prune\": [1],\n  \"prune\": [2]")] // a repeated property: which one to keep is the user's call
    [InlineData("SI0002", "\"prune\": [1],\n  \"prun\": [2]")] // renaming would repeat 'prune'
    [InlineData("SI0010", "\"share\": [ { \"layer\": 3, \"weightsOf\": 1 }, { \"layer\": 3, \"weightsOf\": 2 } ]")] // which share to drop is ambiguous
    [InlineData("SI0009", "\"share\": [ { \"layer\": 9, \"weightsOf\": 1 } ]")] // not a list entry
    public async Task No_fix_when_the_fix_is_ambiguous(string id, string body)
    {
        var (actions, _) = await FixesFor(id, Plan(body));
        Assert.Empty(actions);
    }

    [Fact]
    public async Task A_stale_diagnostic_leaves_an_edited_file_alone()
    {
        // The IDE can offer a fix from the last analysis while the file already reads differently.
        var (actions, document) = await FixesFor("SI0010", Plan("\"prune\": [1, 1]"), documentText: Plan("\"prune\": [2, 44]"));
        Assert.Equal(Plan("\"prune\": [2, 44]"), await Apply(Assert.Single(actions), document));
    }

    [Fact]
    public void The_provider_handles_json_additional_documents()
    {
        var export = (ExportCodeFixProviderAttribute)Attribute.GetCustomAttribute(typeof(JsonFileCodeFixProvider), typeof(ExportCodeFixProviderAttribute))!;
        Assert.Contains(nameof(TextDocumentKind.AdditionalDocument), export.DocumentKinds!);
        Assert.Contains(".json", export.DocumentExtensions!);
        Assert.Equal(["SI0002", "SI0009", "SI0010"], new JsonFileCodeFixProvider().FixableDiagnosticIds.Order());
    }

    private static async Task<(List<CodeAction> Actions, TextDocument Document)> FixesFor(string id, string plan, string? documentText = null)
    {
        var workspace = new AdhocWorkspace();
        var project = workspace.AddProject(ProjectInfo.Create(ProjectId.CreateNewId(), VersionStamp.Create(), "Demo", "Demo", LanguageNames.CSharp));
        var planDocument = project.AddAdditionalDocument("p.plan.json", SourceText.From(documentText ?? plan), filePath: PlanPath);
        var (diagnostics, exceptions) = GeneratorHarness.Analyze(GeneratorHarness.Compilation(Engine),
            [new InMemoryAdditionalText(PlanPath, plan), new InMemoryAdditionalText(ManifestPath, Manifest)]);
        Assert.Empty(exceptions);
        var found = diagnostics.Where(d => d.Id == id).ToList();
        Assert.NotEmpty(found);
        Assert.All(found, d => Assert.Equal(PlanPath, d.Location.GetLineSpan().Path));
        var actions = new List<CodeAction>();
        var provider = new JsonFileCodeFixProvider();
        foreach (var d in found)
        {
            var context = new CodeFixContext(planDocument, d.Location.SourceSpan, [d], (a, _) => actions.Add(a), CancellationToken.None);
            await provider.RegisterCodeFixesAsync(context);
        }
        return (actions, planDocument);
    }

    /// <summary>The plan's text in the solution the action produces.</summary>
    private static async Task<string> Apply(CodeAction action, TextDocument document)
    {
        var operation = Assert.IsType<ApplyChangesOperation>(Assert.Single(await action.GetOperationsAsync(CancellationToken.None)));
        var changed = operation.ChangedSolution.GetAdditionalDocument(document.Id)!;
        return (await changed.GetTextAsync()).ToString();
    }
}
