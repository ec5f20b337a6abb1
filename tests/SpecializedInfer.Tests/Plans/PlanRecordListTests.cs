using System.Reflection;
using SpecializedInfer.Engine;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Tests.Plans;

/// <summary>
/// The plan and schedule records show their lists as <see cref="IReadOnlyList{T}"/> (EquatableArray is a planning
/// detail) and still compare by content, whatever list a caller hands them: the generator's caching and the
/// schedule-equality checks of generated engines depend on that.
/// </summary>
public sealed class PlanRecordListTests
{
    [Fact]
    public void No_public_member_of_the_planning_records_exposes_EquatableArray()
    {
        var planning = typeof(ExecutionSchedule).Assembly.GetExportedTypes()
            .Where(t => t.Namespace is not null && t.Namespace.StartsWith("SpecializedInfer.Planning", StringComparison.Ordinal));
        var exposed = new List<string>();
        foreach (var type in planning.Where(t => !t.Name.StartsWith("EquatableArray", StringComparison.Ordinal)))
        {
            foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
                if (MentionsEquatableArray(p.PropertyType)) exposed.Add($"{type.Name}.{p.Name}");
            foreach (var c in type.GetConstructors())
                foreach (var a in c.GetParameters())
                    if (MentionsEquatableArray(a.ParameterType)) exposed.Add($"{type.Name}({a.Name})");
            foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
                if (!m.IsSpecialName && (MentionsEquatableArray(m.ReturnType) || m.GetParameters().Any(a => MentionsEquatableArray(a.ParameterType))))
                    exposed.Add($"{type.Name}.{m.Name}()");
        }
        Assert.Empty(exposed);
    }

    private static bool MentionsEquatableArray(Type t) =>
        (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(EquatableArray<>))
        || (t.IsGenericType && t.GetGenericArguments().Any(MentionsEquatableArray))
        || (t.IsArray && MentionsEquatableArray(t.GetElementType()!));

    [Fact]
    public void Plans_built_from_different_list_types_are_equal_and_hash_alike()
    {
        var exit = new ExitPoint(1, ExitTest.OfEnsemble(1, ExitTest.Of(ExitCriterion.MaxProbability, 0.9), ExitTest.OfPatience(2)));
        var fromArrays = new LayerPlan { Manifest = "m.model.json", Prune = [3], Order = new[] { 0, 1, 2, 4 }, Exits = new[] { exit } };
        var fromLists = new LayerPlan
        {
            Manifest = "m.model.json", Prune = new List<int> { 3 }, Order = new List<int> { 0, 1, 2, 4 },
            Exits = new List<ExitPoint> { exit with { Test = exit.Test with { Members = exit.Test.Members.ToList() } } },
        };
        Assert.Equal(fromArrays, fromLists);
        Assert.Equal(fromArrays.GetHashCode(), fromLists.GetHashCode());
        Assert.NotEqual(fromArrays, fromLists with { Prune = new List<int> { 2 } });
        Assert.NotEqual(fromArrays, fromLists with { Order = null });

        var a = ExecutionSchedule.Resolve(fromArrays, 5);
        var b = ExecutionSchedule.Resolve(fromLists, 5);
        Assert.Equal(a, b);
        Assert.Equal(a, a with { Steps = a.Steps.ToList(), PrunedLayers = a.PrunedLayers.ToArray() });
        Assert.Equal(DecodeDecisions.For(a), DecodeDecisions.For(b));
    }

    [Fact]
    public void A_list_handed_to_a_record_is_copied_so_later_changes_do_not_reach_it()
    {
        var prune = new List<int> { 1 };
        var plan = new LayerPlan { Manifest = "m.model.json", Prune = prune };
        prune.Add(2);
        Assert.Equal([1], plan.Prune);
    }
}
