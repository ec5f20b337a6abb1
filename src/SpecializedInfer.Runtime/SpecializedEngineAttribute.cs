namespace SpecializedInfer;

/// <summary>
/// Marks a partial class as a specialized engine generated from a layer plan. The path names a
/// <c>*.plan.json</c> file among the project's AdditionalFiles, relative to the project directory, e.g.
/// <c>[SpecializedEngine("models/stories260K.fast.plan.json")] public partial class StoriesFast;</c>
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class SpecializedEngineAttribute(string planPath) : Attribute
{
    public string PlanPath { get; } = planPath;
}
